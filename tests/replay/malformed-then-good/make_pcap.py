"""Broken packets of every layer (bad IP version, short IPv4 header, total length
below header length, short TCP header, bad TCP data offset, short UDP, UDP
length below 8, truncated IPv6 extension header, short ICMP), each followed by
good traffic that must still be tracked normally."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
good_v4 = IP(src="10.2.0.1", dst="198.51.100.20") / UDP(sport=4000, dport=4001) / b"ok"
bad = [
    b"\x75" + bytes(bytes(good_v4)[1:]),                              # IP version 7
    bytes(good_v4)[:12],                                            # short IPv4 header
    b"\x45\x00\x00\x10" + bytes(good_v4)[4:20],                     # total length 16 < 20
    bytes(IP(src="10.2.0.1", dst="198.51.100.20", proto=6)) + b"\x00" * 10,            # short TCP
    bytes(IP(src="10.2.0.1", dst="198.51.100.20") / TCP(dataofs=2)),                    # TCP offset 2
    bytes(IP(src="10.2.0.1", dst="198.51.100.20", proto=17)) + b"\x00" * 4,            # short UDP
    bytes(IP(src="10.2.0.1", dst="198.51.100.20") / UDP(len=4) / b"zz"),                # UDP len 4
    bytes(IPv6(src="fd00::1", dst="2001:db8::1", nh=60, plen=4)) + b"\x11\x05\x00\x00", # ext hdr runs past
    bytes(IP(src="10.2.0.1", dst="198.51.100.20", proto=1)) + b"\x08",                 # short ICMP
]
for b in bad:
    tl.add(Raw(b))
    tl.add(good_v4.copy())
tl.write(linktype=101)
