"""Raw IP link type (as NFQUEUE delivers packets): IPv6 TCP through a chain of
extension headers, an IPv6 UDP datagram in fragments, ICMPv6 echo, and an IPv4
UDP flow, all in one file."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p
tcp_session(tl, raw, "fd00::10", "2001:db8::80", 41000, 80, ipcls=IPv6)
ext = IPv6(src="fd00::11", dst="2001:db8::77") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP(sport=7777, dport=7778) / (b"q" * 20)
tl.add(ext)
tl.add(IPv6(src="2001:db8::77", dst="fd00::11") / UDP(sport=7778, dport=7777) / (b"a" * 20))
big = IPv6(src="fd00::12", dst="2001:db8::99") / IPv6ExtHdrFragment(id=77) / UDP(sport=9000, dport=9001) / (b"C" * 2000)
for frag in fragment6(big, 1000):
    tl.add(frag)
tl.add(IPv6(src="fd00::13", dst="2001:db8::1") / ICMPv6EchoRequest(id=5, seq=1))
tl.add(IPv6(src="2001:db8::1", dst="fd00::13") / ICMPv6EchoReply(id=5, seq=1))
tl.add(IP(src="10.0.0.5", dst="192.0.2.1") / UDP(sport=123, dport=123) / b"ntp")
tl.write(linktype=101)  # LINKTYPE_RAW
