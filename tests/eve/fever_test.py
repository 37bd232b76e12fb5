#!/usr/bin/python3
"""A real consumer from Debian reads tripline's DNS events: `fever` (1.3.5,
an EVE event router for Suricata) with its passive DNS collector.

fever 1.3.5 collects passive DNS only from events with `dns.type: "answer"`
and reads their `answers` array only when `dns.version` is 2 (Suricata 6/7's
layout; util/util.go, processing/pdns_collector.go). It submits what it
collected only over AMQP (its dummy submitter logs the indented JSON as
"non-printable" and shows only its length), so this test runs fever against
a minimal local AMQP sink (amqp_sink.py) and reads what fever published.

Steps: replay the rules-user pcap with [log] dns_version = 2 and then 3; both
files validate against Suricata's schema plus tripline's extension
(contrib/eve/validate-eve.py); feed each to fever's input socket; with
version 2, fever's passive DNS record holds every answer address with its
name and the resolver; with version 3 it holds none (what the option is for).

usage: fever_test.py TRIPLINE_BINARY SOURCE_DIR   (exit 77: fever not installed)
"""
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_sink import AmqpSink  # noqa: E402

WANT = {("bad.example.test", "198.51.100.7"), ("ok.example.test", "203.0.113.100")}


def replay(tripline, src, tmp, version):
    pcap = os.path.join(tmp, "input.pcap")
    if not os.path.exists(pcap):
        subprocess.run(["/usr/bin/python3", os.path.join(src, "tests/replay/rules-user/make_pcap.py"),
                        pcap], check=True)
    cfg = os.path.join(tmp, f"v{version}.toml")
    with open(cfg, "w") as f:
        f.write(f'[dns]\nresolvers = ["10.0.0.53"]\n\n[log]\ndns_version = {version}\n')
    events = os.path.join(tmp, f"v{version}.json")
    subprocess.run([tripline, "replay", pcap, "-c", cfg, "--events", events, "--quiet"],
                   check=True, env=dict(os.environ, TZ="UTC"))
    subprocess.run(["/usr/bin/python3", os.path.join(src, "contrib/eve/validate-eve.py"), events],
                   check=True)
    return events


def fever_pdns(events, tmp, tag):
    """Runs fever on the file; returns the (name, rdata, answering_host) it published."""
    sink = AmqpSink()
    sock = os.path.join(tmp, f"in-{tag}.sock")
    log = open(os.path.join(tmp, f"fever-{tag}.log"), "w+")
    proc = subprocess.Popen(
        ["fever", "run", "-v", "--pdns-enable", "--pdns-submission-url", sink.url(), "-f", "1s",
         "-i", sock, "-o", "", "--mgmt-socket", os.path.join(tmp, f"mgmt-{tag}.sock")],
        stdout=log, stderr=subprocess.STDOUT)
    found = set()
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.1)
        if not os.path.exists(sock):
            sys.exit(f"fever did not open its input socket {sock}")
        with open(events, "rb") as f:
            data = f.read()
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sock)
        c.sendall(data)
        c.close()
        # fever flushes every second: wait for two flushes after the input.
        seen = 0
        deadline = time.time() + 20
        while time.time() < deadline and seen < 3:
            time.sleep(0.5)
            seen = len(sink.bodies("pdns"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.seek(0)
    text = log.read()
    if sink.errors:
        sys.exit(f"AMQP sink: {sink.errors}")
    if "level=error" in text or "level=fatal" in text:
        sys.exit(f"fever logged errors:\n{text}")
    bodies = sink.bodies("pdns")
    if not bodies:
        sys.exit(f"fever published no passive DNS record:\n{text}")
    for b in bodies:
        if b[:2] == b"\x1f\x8b":
            b = gzip.decompress(b)
        for name, detail in (json.loads(b).get("dns") or {}).items():
            for r in detail.get("rdata", []):
                found.add((name, r.get("rdata"), r.get("answering_host")))
    sink.close()
    return found


def main():
    tripline, src = sys.argv[1], sys.argv[2]
    if not shutil.which("fever"):
        print("fever is not installed (Debian package fever)")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="tripline-fever-") as tmp:
        v2 = fever_pdns(replay(tripline, src, tmp, 2), tmp, "v2")
        got = {(n, a) for (n, a, _) in v2}
        if got != WANT or any(h != "10.0.0.53" for (_, _, h) in v2):
            sys.exit(f"fever's passive DNS from the version 2 file: {sorted(v2)}; want {sorted(WANT)} "
                     "answered by 10.0.0.53")
        print(f"version 2: fever found {sorted(v2)}")
        v3 = fever_pdns(replay(tripline, src, tmp, 3), tmp, "v3")
        if v3:
            sys.exit(f"fever read answers from the version 3 file: {sorted(v3)} (expected none)")
        print("version 3: fever finds no answers (it reads only version 2's)")


if __name__ == "__main__":
    main()
