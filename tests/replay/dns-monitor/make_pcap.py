"""[egress] mode = "monitor": a connect to an answered address is accepted
("dns", the flow event names it); connects to a never-answered address and to
an address another client resolved pass too, each with an alert saying it
would have been blocked and why; the allow-listed NTP server raises nothing."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = eth_per_address  # each client address its own host
CLI, OTHER, RES = "10.0.0.10", "10.0.0.11", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0xb001, "ok.example.test",
           [dns_rr("ok.example.test", "A", 300, "203.0.113.100")])
tcp_session(tl, eth, CLI, "203.0.113.100", 40001, 443)
tcp_session(tl, eth, CLI, "203.0.113.101", 40002, 443)      # unresolved: would block
tcp_syn(tl, eth, OTHER, "203.0.113.100", 40003, 443)        # other client: would block
tl.add(eth(IP(src=CLI, dst="192.0.2.123") / UDP(sport=40004, dport=123) / b"ntp?"))  # allow list
tl.write()
