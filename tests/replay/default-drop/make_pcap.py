"""With default_verdict = "drop" and nothing else deciding, every packet is
dropped, including malformed ones."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p
tcp_session(tl, raw, "192.168.5.5", "198.51.100.5", 42000, 22)
tl.add(IP(src="192.168.5.5", dst="198.51.100.5") / UDP(sport=1, dport=2) / b"x")
tl.add(Raw(b"\x45\x00\x00"))  # a truncated IPv4 header
tl.write(linktype=101)
