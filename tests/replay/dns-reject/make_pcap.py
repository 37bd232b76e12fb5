"""[egress] action = "reject": a TCP connect and a UDP datagram to never-answered
addresses get verdict "reject" with the reject mark (reason "unresolved"); a
connect to an answered address is still accepted ("dns"), and the DNS traffic
itself passes."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0xa001, "ok.example.test",
           [dns_rr("ok.example.test", "A", 300, "203.0.113.100")])
tcp_session(tl, eth, CLI, "203.0.113.100", 40001, 443)
tcp_syn(tl, eth, CLI, "203.0.113.101", 40002, 443)
tcp_syn(tl, eth, CLI, "203.0.113.101", 40002, 443, gap=1.0)  # retransmitted SYN: same flow
tl.add(eth(IP(src=CLI, dst="203.0.113.102") / UDP(sport=40003, dport=123) / b"ntp?"))
tl.write()
