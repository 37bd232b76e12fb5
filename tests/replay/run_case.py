#!/usr/bin/python3
"""Runs one replay test case folder: builds its pcap (make_pcap.py, scapy),
replays it through `tripline replay` with the case's config, checks every
event against tripline's EVE schema (contrib/eve/validate-eve.py), and
compares the verdict and event JSON lines with the expected files after
canonicalising (sorted keys, one object per line; flow_id values, random per
run, become 1, 2, ... in order of first appearance; capture_file keeps only
the file name). UPDATE=1 rewrites the
expected files.

A case may also hold expected-counters.json: an object of counter names (as in
the replay summary, e.g. "dns_answers_unmatched") and their values after the
run; only the names listed there are compared (UPDATE=1 refreshes the values,
or writes every dns_*, egress_*, lua_* and capture_* counter when the file
is empty or {}).

A case may hold expected-captures.json: the replay then writes captures to a
scratch folder (--capture-dir), and every pcap file there is read back with
capinfos (packet count, encapsulation) and tshark (one line of fields per
frame), as Wireshark would open it; the file names and those readings must
match. A pcapng recording also gives its section comment (capinfos -k), its
packet comments (tshark frame.comment) and the host names tshark shows with
name resolution from the file only (its name resolution blocks: no DNS
lookups, no names learnt from DNS packets, no hosts files).

usage: run_case.py TRIPLINE_BINARY CASE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile


def canonical(path):
    out = []
    flow_ids = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
            if isinstance(obj, dict) and "flow_id" in obj:
                obj["flow_id"] = flow_ids.setdefault(obj["flow_id"], len(flow_ids) + 1)
            if isinstance(obj, dict) and "capture_file" in obj:  # in a scratch folder
                obj["capture_file"] = os.path.basename(obj["capture_file"])
            out.append(json.dumps(obj, sort_keys=True))
    return out


VALIDATE_EVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib",
                            "eve", "validate-eve.py")


def summary_counters(stderr):
    """The "name value" lines of the replay summary as {name: int}."""
    out = {}
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


TSHARK_FIELDS = ["frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
                 "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.flags", "tcp.len"]


# Names from the file only: tshark's own resolver off, nothing learnt from the
# DNS packets in the file, only the (empty) profile hosts file.
TSHARK_NAMES_FROM_FILE = ["-N", "n", "-o", "nameres.use_external_name_resolver:FALSE",
                          "-o", "nameres.dns_pkt_addr_resolution:FALSE",
                          "-o", "nameres.hosts_file_handling:TRUE"]


def read_captures(folder):
    """{file name: {"packets", "encapsulation", "frames"}} via capinfos and tshark;
    pcapng files also {"section_comment", "packet_comments", "host_names"}."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="tripline-wireshark-") as conf:
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf, HOME=conf)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            info = subprocess.run(["capinfos", "-T", "-r", "-c", "-E", path], capture_output=True,
                                  text=True, check=True).stdout.strip().split("\t")
            frames = subprocess.run(
                ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=|"] +
                [a for f in TSHARK_FIELDS for a in ("-e", f)],
                capture_output=True, text=True, check=True).stdout.splitlines()
            out[name] = {"encapsulation": info[1], "packets": int(info[2]), "frames": frames}
            if not name.endswith(".pcapng"):
                continue
            comment = subprocess.run(["capinfos", "-k", "-T", "-r", path], capture_output=True,
                                     text=True, check=True, env=env).stdout
            out[name]["section_comment"] = comment.rstrip("\n").split("\t", 1)[-1]
            pkt = subprocess.run(
                ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=|",
                 "-e", "frame.number", "-e", "frame.comment"],
                capture_output=True, text=True, check=True, env=env).stdout.splitlines()
            out[name]["packet_comments"] = [l for l in pkt if l.split("|", 1)[1:] != [""]]
            hosts = subprocess.run(
                ["tshark", "-r", path] + TSHARK_NAMES_FROM_FILE +
                ["-T", "fields", "-E", "separator=|", "-e", "ip.src_host", "-e", "ip.dst_host"],
                capture_output=True, text=True, check=True, env=env).stdout.split()
            out[name]["host_names"] = sorted({h for l in hosts for h in l.split("|")})
    return out


def main():
    tripline, case = sys.argv[1], os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="tripline-replay-") as tmp:
        pcap = os.path.join(tmp, "input.pcap")
        subprocess.run(["/usr/bin/python3", os.path.join(case, "make_pcap.py"), pcap], check=True)
        verdicts = os.path.join(tmp, "verdicts.jsonl")
        events = os.path.join(tmp, "events.jsonl")
        counters_path = os.path.join(case, "expected-counters.json")
        want_counters = None
        if os.path.exists(counters_path):
            with open(counters_path) as f:
                text = f.read().strip()
            want_counters = json.loads(text) if text else {}
        cmd = [tripline, "replay", pcap, "--verdicts", verdicts, "--events", events]
        captures_path = os.path.join(case, "expected-captures.json")
        capture_dir = os.path.join(tmp, "captures")
        if os.path.exists(captures_path):
            cmd += ["--capture-dir", capture_dir]
        if want_counters is None:
            cmd.append("--quiet")
        config = os.path.join(case, "config.toml")
        if os.path.exists(config):
            cmd += ["-c", config]
        env = dict(os.environ, TZ="UTC")
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"tripline replay failed ({r.returncode}):\n{r.stderr}")
        failed = False
        if os.path.exists(events):
            v = subprocess.run(["/usr/bin/python3", VALIDATE_EVE, events], capture_output=True,
                               text=True)
            if v.returncode != 0:
                failed = True
                print("--- events do not validate against contrib/eve/tripline-schema.json")
                print(v.stdout + v.stderr)
        if want_counters is not None:
            got_counters = summary_counters(r.stderr)
            keys = sorted(want_counters) or sorted(
                k for k in got_counters if k.startswith(("dns_", "egress_", "lua_", "capture_")))
            if os.environ.get("UPDATE") == "1":
                with open(counters_path, "w") as f:
                    json.dump({k: got_counters.get(k) for k in keys}, f, indent=2, sort_keys=True)
                    f.write("\n")
            else:
                for k in keys:
                    if got_counters.get(k) != want_counters[k]:
                        failed = True
                        print(f"--- counter {k}: want {want_counters[k]}, got {got_counters.get(k)}")
        if os.path.exists(captures_path):
            got_caps = read_captures(capture_dir) if os.path.isdir(capture_dir) else {}
            # An alert's capture_file is a recording the run made.
            for line in canonical(events) if os.path.exists(events) else []:
                named = json.loads(line).get("capture_file")
                if named is not None and named not in got_caps:
                    failed = True
                    print(f"--- capture_file {named} is not among the recordings {sorted(got_caps)}")
            if os.environ.get("UPDATE") == "1":
                with open(captures_path, "w") as f:
                    json.dump(got_caps, f, indent=1, sort_keys=True)
                    f.write("\n")
            else:
                with open(captures_path) as f:
                    want_caps = json.load(f)
                if got_caps != want_caps:
                    failed = True
                    print("--- expected-captures.json differs")
                    print("want", json.dumps(want_caps, indent=1, sort_keys=True))
                    print("got ", json.dumps(got_caps, indent=1, sort_keys=True))
        for name, produced in (("expected-verdicts.jsonl", verdicts),
                               ("expected-events.jsonl", events)):
            want_path = os.path.join(case, name)
            got = canonical(produced)
            if os.environ.get("UPDATE") == "1":
                with open(want_path, "w") as f:
                    f.write("".join(line + "\n" for line in got))
                continue
            want = canonical(want_path)
            if got != want:
                failed = True
                print(f"--- {name} differs")
                for i in range(max(len(got), len(want))):
                    g = got[i] if i < len(got) else "<missing>"
                    w = want[i] if i < len(want) else "<missing>"
                    if g != w:
                        print(f"line {i + 1}:\n  want {w}\n  got  {g}")
        if failed:
            sys.exit(1)
        print(f"{os.path.basename(case)}: verdicts and events match")


if __name__ == "__main__":
    main()
