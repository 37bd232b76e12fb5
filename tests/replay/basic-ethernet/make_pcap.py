"""Ethernet (with an 802.1Q tag on some frames): a TCP session closed by FIN, one
closed by RST, a UDP exchange, an ICMP echo, an ARP frame (not IP), and an IPv4
datagram in three fragments plus a stray non-first fragment of an unknown one."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
vlan = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=7) / p

tcp_session(tl, eth, "192.168.1.10", "198.51.100.7", 40000, 80)
tcp_session(tl, vlan, "192.168.1.10", "198.51.100.8", 40001, 443, close="rst")
tl.add(eth(IP(src="192.168.1.11", dst="203.0.113.5") / UDP(sport=5000, dport=6000) / b"ping"))
tl.add(eth(IP(src="203.0.113.5", dst="192.168.1.11") / UDP(sport=6000, dport=5000) / b"pong"))
tl.add(eth(IP(src="192.168.1.12", dst="198.51.100.9") / ICMP(type=8, id=1, seq=1) / (b"x" * 16)))
tl.add(eth(IP(src="198.51.100.9", dst="192.168.1.12") / ICMP(type=0, id=1, seq=1) / (b"x" * 16)))
tl.add(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="192.168.1.1"))
big = IP(src="192.168.1.13", dst="198.51.100.10", id=4242) / UDP(sport=7000, dport=7001) / (b"A" * 1200)
for frag in fragment(big, fragsize=512):
    tl.add(eth(frag))
stray = IP(src="192.168.1.14", dst="198.51.100.11", id=999, frag=64, proto=17) / (b"B" * 100)
tl.add(eth(stray))
tl.write()
