"""The shipped lua/scripts/new_flow_rate.lua (MAX_FLOWS 50 a second,
BLOCK_SECONDS 30): 10.0.0.2 opens 55 flows in 0.55 s; the 51st to 55th are
dropped (one alert, at the 51st), a flow it opened before keeps going, a
new flow 10 s later is still dropped and one after the block ends (31 s) is
accepted. 10.0.0.3 opens 20 flows at once and 10.0.0.4 opens 60 in 3 s
(20 a second): all accepted."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p
CLI, SRV = "10.0.0.2", "198.51.100.10"

for i in range(55):  # a burst: 51..55 dropped
    tcp_syn(tl, raw, CLI, SRV, 40000 + i, 80)
# The first flow's data still passes: only new flows are dropped.
tl.add(IP(src=CLI, dst=SRV) / TCP(sport=40000, dport=80, flags="PA", seq=1001) / b"GET / HTTP/1.0\r\n\r\n")
for i in range(20):  # another client, under the limit
    tcp_syn(tl, raw, "10.0.0.3", SRV, 41000 + i, 80)
for i in range(60):  # a steady client, 20 a second
    tcp_syn(tl, raw, "10.0.0.4", SRV, 42000 + i, 80, gap=0.05)
tcp_syn(tl, raw, CLI, SRV, 40100, 80, gap=10)  # still blocked
tcp_syn(tl, raw, CLI, SRV, 40101, 80, gap=21)  # block over (30 s after the 51st flow)
tl.write()
