"""EVE layouts end to end, with [log] stats_interval = 1: a DNS lookup and the
flow it opens, a flow monitor mode would block (alert), an ICMP echo and an
IPv6 UDP exchange (community_id of each kind), spread over 5.5 s of pcap time
with a 3 s gap: one stats event per second crossed while packets come, one
(not three) after the gap."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p

dns_lookup(tl, raw, "10.0.0.10", "10.0.0.53", 33000, 0x1001, "ok.example.test",
           [dns_rr("ok.example.test", "A", 300, "203.0.113.100")])
tcp_session(tl, raw, "10.0.0.10", "203.0.113.100", 40001, 443)
tl.add(IP(src="10.0.0.10", dst="198.51.100.9") / ICMP(type=8, id=1, seq=1) / (b"x" * 16), gap=0.6)
tl.add(IP(src="198.51.100.9", dst="10.0.0.10") / ICMP(type=0, id=1, seq=1) / (b"x" * 16))
tcp_syn(tl, raw, "10.0.0.10", "203.0.113.101", 40002, 443, gap=0.6)
tl.add(IPv6(src="fd00::10", dst="fd00::20") / UDP(sport=5000, dport=6000) / b"ping", gap=3.0)
tl.add(IPv6(src="fd00::20", dst="fd00::10") / UDP(sport=6000, dport=5000) / b"pong", gap=1.0)
tl.write(linktype=101)  # LINKTYPE_RAW: IPv4 and IPv6 in one file
