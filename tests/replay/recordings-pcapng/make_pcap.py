"""A client resolves www.example.test (203.0.113.80) and fetches a page, then
resolves telnet.example.test (203.0.113.23) and tries telnet: rule
watch-telnet alerts, drops and starts a host capture of the client that
begins with the packets kept from before the trigger (the DNS answers
included). The retransmitted SYN is dropped again (a packet comment says so);
a later lookup and HTTPS flow of the same client are recorded and accepted;
10.0.0.99 is never resolved (no name in the file)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0xc001, "www.example.test",
           [dns_rr("www.example.test", "A", 300, "203.0.113.80")])
tcp_session(tl, eth, CLI, "203.0.113.80", 40001, 80)
dns_lookup(tl, eth, CLI, RES, 33001, 0xc002, "telnet.example.test",
           [dns_rr("telnet.example.test", "A", 300, "203.0.113.23")])
tcp_syn(tl, eth, CLI, "203.0.113.23", 40002, 23)
tcp_syn(tl, eth, CLI, "203.0.113.23", 40002, 23, gap=1.0)  # retransmission: dropped again
dns_lookup(tl, eth, CLI, RES, 33002, 0xc003, "secure.example.test",
           [dns_rr("secure.example.test", "A", 300, "203.0.113.44")])
tcp_session(tl, eth, CLI, "203.0.113.44", 40003, 443)
tl.add(eth(IP(src="10.0.0.99", dst=CLI) / UDP(sport=5000, dport=5001) / b"hello"))
tl.write()
