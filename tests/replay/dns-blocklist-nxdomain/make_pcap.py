"""block_mode "nxdomain" with a hosts-format list (lists/ads.hosts). A UDP answer for
ads.example.test (A 203.0.113.60) is replaced by an NXDOMAIN answer (accept with a
replacement, reason "blocklist:ads.hosts"); the same name asked over TCP cannot be
rewritten in a stream, so that whole DNS connection is dropped from the answer on.
Neither opens anything: connects to 203.0.113.60 and .61 are dropped "unresolved"."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0xc001, "ads.example.test",
           [dns_rr("ads.example.test", "A", 300, "203.0.113.60")])
tcp_syn(tl, eth, CLI, "203.0.113.60", 40001, 443)

# the same over TCP
SP = 34000


def framed(msg):
    b = bytes(msg)
    return struct.pack("!H", len(b)) + b


c, s = 1000, 5000
tl.add(eth(IP(src=CLI, dst=RES) / TCP(sport=SP, dport=53, flags="S", seq=c)))
c += 1
tl.add(eth(IP(src=RES, dst=CLI) / TCP(sport=53, dport=SP, flags="SA", seq=s, ack=c)))
s += 1
tl.add(eth(IP(src=CLI, dst=RES) / TCP(sport=SP, dport=53, flags="A", seq=c, ack=s)))
q = framed(dns_query_msg(0xc002, "ads.example.test"))
tl.add(eth(IP(src=CLI, dst=RES) / TCP(sport=SP, dport=53, flags="PA", seq=c, ack=s) / q))
c += len(q)
a = framed(dns_answer_msg(0xc002, "ads.example.test",
                          [dns_rr("ads.example.test", "A", 300, "203.0.113.61")]))
tl.add(eth(IP(src=RES, dst=CLI) / TCP(sport=53, dport=SP, flags="PA", seq=s, ack=c) / a))
s += len(a)
tl.add(eth(IP(src=CLI, dst=RES) / TCP(sport=SP, dport=53, flags="FA", seq=c, ack=s)))
tl.add(eth(IP(src=RES, dst=CLI) / TCP(sport=53, dport=SP, flags="FA", seq=s, ack=c + 1)))
tcp_syn(tl, eth, CLI, "203.0.113.61", 40002, 443)
tl.write()
