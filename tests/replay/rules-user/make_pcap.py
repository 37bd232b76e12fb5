"""[[rule]]s run before the egress chain. bad.example.test resolves into
198.51.100.0/24, which rule never-bad-net refuses anyway (drop, alert, reason
rule:never-bad-net); a UDP flow to port 123 of a never-resolved address is
accepted by ntp-no-dns (no DNS check); a resolved HTTPS flow is counted by
tls-count and accepted by egress.dns; an unresolved flow to port 8443 is
counted and then blocked by egress.unresolved; telnet is rejected by no-telnet
(alert, capture of that flow, retransmitted SYN included); an inbound flow is
not the egress chain's business (default)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0xb001, "bad.example.test",
           [dns_rr("bad.example.test", "A", 300, "198.51.100.7")])
tcp_syn(tl, eth, CLI, "198.51.100.7", 40001, 443)
dns_lookup(tl, eth, CLI, RES, 33001, 0xb002, "ok.example.test",
           [dns_rr("ok.example.test", "A", 300, "203.0.113.100")])
tcp_session(tl, eth, CLI, "203.0.113.100", 40002, 443)
tl.add(eth(IP(src=CLI, dst="203.0.113.50") / UDP(sport=40003, dport=123) / b"ntp?"))
tl.add(eth(IP(src="203.0.113.50", dst=CLI) / UDP(sport=123, dport=40003) / b"ntp!"))
tcp_syn(tl, eth, CLI, "203.0.113.101", 40004, 8443)
tcp_syn(tl, eth, CLI, "203.0.113.23", 40005, 23)
tcp_syn(tl, eth, CLI, "203.0.113.23", 40005, 23, gap=1.0)  # retransmission: same flow
tcp_syn(tl, eth, "203.0.113.9", CLI, 40006, 22)
tl.write()
