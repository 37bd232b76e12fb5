"""The input of tests/bench: 40 names resolved through the trusted resolver
and connected to (a short HTTP session each), 10 literal-IP connects that
egress would block, a few telnet SYNs the trigger drops, UDP noise. Enough
flows and packets that every stage has work, small enough for ASan."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "replay"))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

for i in range(40):
    name = "host%d.example.test" % i
    addr = "203.0.113.%d" % (10 + i)
    dns_lookup(tl, eth, CLI, RES, 33000 + i, 0xa000 + i, name, [dns_rr(name, "A", 300, addr)])
    tcp_session(tl, eth, CLI, addr, 40000 + i, 443)
for i in range(10):
    tcp_syn(tl, eth, CLI, "198.51.100.%d" % (1 + i), 41000 + i, 443)
for i in range(3):
    tcp_syn(tl, eth, CLI, "198.51.100.200", 42000 + i, 23)
for i in range(5):
    tl.add(eth(IP(src=CLI, dst="192.0.2.7") / UDP(sport=5000 + i, dport=9999) / b"noise"))
tl.write()
