#!/usr/bin/python3
"""The EVE schema check itself (contrib/eve/validate-eve.py): the extension
lists exactly Suricata's top-level properties plus `tripline`; every replay
case's expected events validate; and events with a key Suricata does not
know (at the top, in a Suricata object, in `tripline`) or without DNS's
`version` are rejected, so the check can fail.

usage: eve_schema_test.py REPO_DIR
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

repo = sys.argv[1]
validate = os.path.join(repo, "contrib", "eve", "validate-eve.py")


def run(*args, stdin=None):
    return subprocess.run(["/usr/bin/python3", validate, *args], input=stdin, text=True,
                          capture_output=True)


failed = False


def check(ok, what, r=None):
    global failed
    if not ok:
        failed = True
        print("FAIL:", what)
        if r is not None:
            print(r.stdout + r.stderr)


r = run("--schema-only")
check(r.returncode == 0, "tripline-schema.json is Suricata's plus tripline", r)

cases = sorted(glob.glob(os.path.join(repo, "tests", "replay", "*", "expected-events*.json*")))
check(len(cases) > 0, "replay cases found")
r = run(*cases)
check(r.returncode == 0, f"{len(cases)} replay cases' expected events validate", r)

T = "2026-01-01T00:00:00.000000+0000"
good = [
    {"timestamp": T, "event_type": "flow", "src_ip": "10.0.0.1", "src_port": 1, "dest_ip": "10.0.0.2",
     "dest_port": 2, "proto": "TCP", "flow_id": 5, "community_id": "1:x",
     "flow": {"action": "accept", "state": "new"},
     "tripline": {"verdict_reason": "dns", "dns_name": "a.test"}},
    {"timestamp": T, "event_type": "dns",
     "dns": {"version": 3, "type": "response", "answers": [{"rrname": "a", "rdata": "1.2.3.4"}]},
     "tripline": {"dns_status": "trusted"}},
    {"timestamp": T, "event_type": "alert", "capture_file": "/x.pcap",
     "alert": {"action": "blocked", "gid": 1, "signature_id": 9100001, "rev": 1},
     "tripline": {"reason": "unresolved", "would_block": True}},
    {"timestamp": T, "event_type": "stats", "stats": {"uptime": 1, "decoder": {"pkts": 1}},
     "tripline": {"stats": {"packets": 1}}},
]
bad = {
    "unknown top-level key": dict(good[0], verdict_reason="dns"),
    "unknown key in flow": dict(good[0], flow={"action": "accept", "verdict_reason": "dns"}),
    "unknown key in alert": dict(good[2], alert={"action": "allowed", "would_block": True}),
    "unknown key in tripline": dict(good[0], tripline={"verdict": "x"}),
    "dns without version": dict(good[1], dns={"type": "response"}),
    "dns answer with a status": dict(good[1], dns={"version": 3, "status": "trusted"}),
    "stats counter not an integer": dict(good[3], tripline={"stats": {"packets": "1"}}),
}
r = run("-", stdin="".join(json.dumps(e) + "\n" for e in good))
check(r.returncode == 0, "tripline's event shapes validate", r)
for what, event in bad.items():
    r = run("-", stdin=json.dumps(event) + "\n")
    check(r.returncode == 1 and ":1:" in r.stdout, f"rejected: {what}", r)

sys.exit(1 if failed else 0)
