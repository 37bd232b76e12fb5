"""on_dns drops answers (the script returns "drop"):
  aGVsbG8gd29ybGQgdGhpcyBpcw.tunnel.example.test A 203.0.113.90
      dropped (verdict drop, reason "lua", dns_status "lua-drop"), an alert;
      opens nothing: the connect that follows is dropped "unresolved"
  short.tunnel.example.test A 203.0.113.91   passes, opens, connect accepted
  cdn.example.test CNAME edge.example.test A 203.0.113.92
      passes; the script's alert shows the fields it read (rcode, qtype, id,
      chain, addresses, answer records, resolver)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

name = "aGVsbG8gd29ybGQgdGhpcyBpcw.tunnel.example.test"
dns_lookup(tl, eth, CLI, RES, 33001, 0xd001, name, [dns_rr(name, "A", 60, "203.0.113.90")])
tcp_syn(tl, eth, CLI, "203.0.113.90", 40001, 443)
dns_lookup(tl, eth, CLI, RES, 33002, 0xd002, "short.tunnel.example.test",
           [dns_rr("short.tunnel.example.test", "A", 60, "203.0.113.91")])
tcp_syn(tl, eth, CLI, "203.0.113.91", 40002, 443)
dns_lookup(tl, eth, CLI, RES, 33003, 0xd003, "cdn.example.test",
           [dns_rr("cdn.example.test", "CNAME", 300, "edge.example.test"),
            dns_rr("edge.example.test", "A", 120, "203.0.113.92")])
tcp_syn(tl, eth, CLI, "203.0.113.92", 40003, 443)
tl.write()
