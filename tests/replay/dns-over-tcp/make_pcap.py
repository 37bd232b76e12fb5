"""DNS over TCP to the trusted resolver: one connection carries two pipelined
length-prefixed queries. The first answer (tcp.example.test A 203.0.113.70) is split
across two segments after the length prefix and 10 bytes; its second segment is
then retransmitted (a duplicate: must not count as a second answer). The second
answer (tcp2.example.test CNAME -> edge A 203.0.113.71) is split inside its 2-byte
length prefix. Connections to both addresses are accepted ("dns"); one to the
never-answered 203.0.113.79 is dropped "unresolved"."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES, SPORT = "10.0.0.10", "10.0.0.53", 34000


def framed(msg):
    b = bytes(msg)
    return struct.pack("!H", len(b)) + b


c, s = 1000, 5000
up = lambda flags, data=b"": tl.add(eth(IP(src=CLI, dst=RES) / TCP(
    sport=SPORT, dport=53, flags=flags, seq=c, ack=s) / data))


def down(flags, seq, data=b""):
    return tl.add(eth(IP(src=RES, dst=CLI) / TCP(sport=53, dport=SPORT, flags=flags, seq=seq,
                                                 ack=c) / data))


tl.add(eth(IP(src=CLI, dst=RES) / TCP(sport=SPORT, dport=53, flags="S", seq=c)))
c += 1
tl.add(eth(IP(src=RES, dst=CLI) / TCP(sport=53, dport=SPORT, flags="SA", seq=s, ack=c)))
s += 1
up("A")
q = framed(dns_query_msg(0x7001, "tcp.example.test")) + \
    framed(dns_query_msg(0x7002, "tcp2.example.test"))
up("PA", q)
c += len(q)

a1 = framed(dns_answer_msg(0x7001, "tcp.example.test",
                           [dns_rr("tcp.example.test", "A", 300, "203.0.113.70")]))
down("A", s, a1[:12])
down("PA", s + 12, a1[12:])
down("PA", s + 12, a1[12:])  # retransmission
s += len(a1)
a2 = framed(dns_answer_msg(0x7002, "tcp2.example.test", [
    dns_rr("tcp2.example.test", "CNAME", 300, "edge.example.test"),
    dns_rr("edge.example.test", "A", 300, "203.0.113.71")]))
down("A", s, a2[:1])
down("PA", s + 1, a2[1:])
s += len(a2)
up("FA")
down("FA", s)
c += 1
s += 1
up("A")

tcp_session(tl, eth, CLI, "203.0.113.70", 40001, 443)
tcp_session(tl, eth, CLI, "203.0.113.71", 40002, 443)
tcp_syn(tl, eth, CLI, "203.0.113.79", 40003, 443)
tl.write()
