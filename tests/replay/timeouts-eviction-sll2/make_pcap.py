"""Linux cooked v2 captures. A UDP flow that goes idle past the configured UDP
timeout and comes back (two flows), and three concurrent TCP flows into a table
of capacity 2 (the stalest is evicted)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403
from scapy.all import CookedLinuxV2  # noqa: E402

tl = Timeline()
sll2 = lambda p: CookedLinuxV2(proto=0x0800 if p.version == 4 else 0x86DD) / p
tl.add(sll2(IP(src="10.1.0.1", dst="192.0.2.50") / UDP(sport=1111, dport=2222) / b"one"))
tl.add(sll2(IP(src="192.0.2.50", dst="10.1.0.1") / UDP(sport=2222, dport=1111) / b"two"))
# 20 s of silence: longer than [flows] udp = 5, so the flow times out.
tl.add(sll2(IP(src="10.1.0.1", dst="192.0.2.50") / UDP(sport=1111, dport=2222) / b"three"), gap=20)
# Three TCP flows opened in turn; the table holds two flows.
for i, port in enumerate((3001, 3002, 3003)):
    tl.add(sll2(IP(src="10.1.0.2", dst="192.0.2.60") / TCP(sport=port, dport=80, flags="S")))
tl.add(sll2(IP(src="10.1.0.2", dst="192.0.2.60") / TCP(sport=3003, dport=80, flags="A")))
tl.write()
