"""The shipped lua/scripts/block_telnet.lua: telnet (TCP 23 and 2323) is
dropped by on_flow with reason "lua", raises an alert (action "blocked") and
starts a flow capture holding every packet of that flow (the retransmitted
SYNs too) and nothing else; HTTPS and UDP to port 23 pass."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p
CLI, CLI2 = "10.0.0.2", "10.0.0.3"

tcp_session(tl, raw, CLI, "198.51.100.10", 40001, 443)
tcp_syn(tl, raw, CLI, "198.51.100.23", 40002, 23)
tl.add(IP(src=CLI2, dst="198.51.100.10") / UDP(sport=5000, dport=23) / b"not telnet")
tcp_syn(tl, raw, CLI, "198.51.100.23", 40002, 23, gap=1.0)  # retransmissions: same flow
tcp_syn(tl, raw, CLI, "198.51.100.23", 40002, 23, gap=2.0)
tcp_syn(tl, raw, CLI2, "198.51.100.24", 40003, 2323)
tl.write()
