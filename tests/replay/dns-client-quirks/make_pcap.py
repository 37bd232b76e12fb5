"""What real stub resolvers do, which must keep working:
  - mixed-case names (DNS 0x20 randomisation): the question and the records come
    back in any case; the chain still matches and opens 203.0.113.1;
  - A and AAAA asked at once with the SAME id from the same port, answered in
    either order: both answers match their own query (203.0.113.2, 2001:db8::2);
  - a client retransmitting its query before the answer: one answer opens;
and what must not: a query sent straight to 8.8.8.8 (not a trusted resolver; DNS
bypass) is a new outbound flow to an unresolved address: dropped "unresolved"."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_query(tl, eth, CLI, RES, 33000, 0xd001, "MiXeD.ExAmPle.TEST")
dns_answer(tl, eth, RES, CLI, 33000, 0xd001, "MiXeD.ExAmPle.TEST", [
    dns_rr("MiXeD.ExAmPle.TEST", "CNAME", 300, "Edge.Example.Test"),
    dns_rr("EDGE.example.test", "A", 300, "203.0.113.1")])
tcp_syn(tl, eth, CLI, "203.0.113.1", 40001, 443)

dns_query(tl, eth, CLI, RES, 33001, 0xd002, "dual.example.test", "A")
dns_query(tl, eth, CLI, RES, 33001, 0xd002, "dual.example.test", "AAAA")
dns_answer(tl, eth, RES, CLI, 33001, 0xd002, "dual.example.test",
           [dns_rr("dual.example.test", "AAAA", 300, "2001:db8::2")], "AAAA")
dns_answer(tl, eth, RES, CLI, 33001, 0xd002, "dual.example.test",
           [dns_rr("dual.example.test", "A", 300, "203.0.113.2")], "A")
tcp_syn(tl, eth, CLI, "203.0.113.2", 40002, 443)

dns_query(tl, eth, CLI, RES, 33002, 0xd003, "retry.example.test")
dns_query(tl, eth, CLI, RES, 33002, 0xd003, "retry.example.test", gap=1.0)
dns_answer(tl, eth, RES, CLI, 33002, 0xd003, "retry.example.test",
           [dns_rr("retry.example.test", "A", 300, "203.0.113.3")])
tcp_syn(tl, eth, CLI, "203.0.113.3", 40003, 443)

dns_query(tl, eth, CLI, "8.8.8.8", 33003, 0xd004, "bypass.example.test")
tl.write()
