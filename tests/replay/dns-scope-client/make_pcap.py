"""Scope "client": client A (10.0.0.10) resolves shared.example.test A 203.0.113.40;
A connects to it (accepted, "dns"), then client B (10.0.0.11), which never asked,
connects to it: dropped with reason "other-client". B connecting to the never-answered
203.0.113.41 is dropped "unresolved" in either scope."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = eth_per_address  # each client address its own host
A, B, RES = "10.0.0.10", "10.0.0.11", "10.0.0.53"

dns_lookup(tl, eth, A, RES, 33000, 0x4001, "shared.example.test",
           [dns_rr("shared.example.test", "A", 300, "203.0.113.40")])
tcp_session(tl, eth, A, "203.0.113.40", 40001, 443)
tcp_syn(tl, eth, B, "203.0.113.40", 40002, 443)
tcp_syn(tl, eth, B, "203.0.113.41", 40003, 443)
tl.write()
