"""The shipped lua/scripts/capture_unresolved.lua: 10.0.0.10 resolves a name
and talks to it (accepted, no recording), then connects to a literal address
(dropped "unresolved" by the policy, which writes its egress alert): the
script starts a host recording of 10.0.0.10 holding the packets just before
the block (pre_packets = 8: its HTTPS session; the lookup before it is older)
and everything of that host after it (a retransmitted SYN, a later lookup). 10.0.0.11's own
traffic (a resolved connection) is in no recording."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
CLI, OTHER, RES = "10.0.0.10", "10.0.0.11", "10.0.0.53"

dns_lookup(tl, eth_per_address, CLI, RES, 33001, 0xc001, "www.example.test",
           [dns_rr("www.example.test", "A", 300, "203.0.113.80")])
tcp_session(tl, eth_per_address, CLI, "203.0.113.80", 40001, 443)
tcp_syn(tl, eth_per_address, CLI, "198.51.100.66", 40002, 8443)      # blocked: unresolved
tcp_syn(tl, eth_per_address, CLI, "198.51.100.66", 40002, 8443, gap=1.0)  # same flow, retransmitted
dns_lookup(tl, eth_per_address, OTHER, RES, 33002, 0xc002, "www.example.test",
           [dns_rr("www.example.test", "A", 300, "203.0.113.80")])
tcp_syn(tl, eth_per_address, OTHER, "203.0.113.80", 40003, 443)
dns_lookup(tl, eth_per_address, CLI, RES, 33003, 0xc003, "mail.example.test",
           [dns_rr("mail.example.test", "A", 300, "203.0.113.25")])
tl.write()
