"""A trusted resolver outside the network on port 5353 (198.51.100.53:5353). The
query flow to it is allowed by egress (it is a resolver); its answer opens
203.0.113.7 (connect accepted, "dns"). An answer for another outstanding query
that comes from the same host's port 53 is not from the resolver: untrusted,
opens nothing, so the connect to 203.0.113.8 is dropped "unresolved"."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "198.51.100.53"

tl.add(eth(IP(src=CLI, dst=RES) / UDP(sport=33000, dport=5353) / dns_query_msg(1, "p.example.test")))
tl.add(eth(IP(src=RES, dst=CLI) / UDP(sport=5353, dport=33000) / dns_answer_msg(
    1, "p.example.test", [dns_rr("p.example.test", "A", 300, "203.0.113.7")])))
tcp_syn(tl, eth, CLI, "203.0.113.7", 40001, 443)
tl.add(eth(IP(src=CLI, dst=RES) / UDP(sport=33001, dport=5353) / dns_query_msg(2, "q.example.test")))
tl.add(eth(IP(src=RES, dst=CLI) / UDP(sport=53, dport=33001) / dns_answer_msg(
    2, "q.example.test", [dns_rr("q.example.test", "A", 300, "203.0.113.8")])))
tcp_syn(tl, eth, CLI, "203.0.113.8", 40002, 443)
tl.write()
