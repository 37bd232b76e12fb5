"""on_dns blocks answers (the script returns "block"; block_mode "null"):
  x7k2q.dga.example.test A 203.0.113.70     rewritten to 0.0.0.0 (accept with a
      replacement, reason "lua", dns_status "lua-block"); opens nothing: the
      connect is dropped "unresolved"; the script starts a host recording of
      the client (expected-captures.json: the query before it, everything
      of 10.0.0.10 after)
  x7k2q.dga.example.test AAAA 2001:db8::70  the same name again (the script
      only blocks a name the first time): passes
  www.example.test A 203.0.113.80           passes, connect accepted"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33001, 0xe001, "x7k2q.dga.example.test",
           [dns_rr("x7k2q.dga.example.test", "A", 60, "203.0.113.70")])
tcp_syn(tl, eth, CLI, "203.0.113.70", 40001, 443)
dns_lookup(tl, eth, CLI, RES, 33002, 0xe002, "x7k2q.dga.example.test",
           [dns_rr("x7k2q.dga.example.test", "AAAA", 60, "2001:db8::70")], qtype="AAAA")
dns_lookup(tl, eth, CLI, RES, 33003, 0xe003, "www.example.test",
           [dns_rr("www.example.test", "A", 300, "203.0.113.80")])
tcp_syn(tl, eth, CLI, "203.0.113.80", 40003, 443)
tl.write()
