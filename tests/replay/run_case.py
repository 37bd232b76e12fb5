#!/usr/bin/python3
"""Runs one replay test case folder: builds its pcap (make_pcap.py, scapy),
replays it through `tripline replay` with the case's config, and compares the
verdict and event JSON lines with the expected files after canonicalising
(sorted keys, one object per line). UPDATE=1 rewrites the expected files.

usage: run_case.py TRIPLINE_BINARY CASE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile


def canonical(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.dumps(json.loads(line), sort_keys=True))
            except ValueError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
    return out


def main():
    tripline, case = sys.argv[1], os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="tripline-replay-") as tmp:
        pcap = os.path.join(tmp, "input.pcap")
        subprocess.run(["/usr/bin/python3", os.path.join(case, "make_pcap.py"), pcap], check=True)
        verdicts = os.path.join(tmp, "verdicts.jsonl")
        events = os.path.join(tmp, "events.jsonl")
        cmd = [tripline, "replay", pcap, "--verdicts", verdicts, "--events", events, "--quiet"]
        config = os.path.join(case, "config.toml")
        if os.path.exists(config):
            cmd += ["-c", config]
        env = dict(os.environ, TZ="UTC")
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"tripline replay failed ({r.returncode}):\n{r.stderr}")
        failed = False
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
