"""A broken trigger cannot stall or crash traffic: a flow whose on_flow loops
forever is cut off by the instruction budget, one whose on_flow raises an
error and one that returns a non-verdict all get the queue's default verdict
("drop" here) with reason "lua-error" on that packet only; their next packets
call on_flow no more (not new flows) and get the default too. Flows the
script handles keep working (port 443 "accept", port 25 "reject")."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p
CLI, SRV = "10.0.0.2", "198.51.100.9"

for port in (9, 10, 11, 443, 25):
    tcp_syn(tl, raw, CLI, SRV, 40000 + port, port)
for port in (9, 443):
    tcp_syn(tl, raw, CLI, SRV, 40000 + port, port, gap=1.0)
tl.write()
