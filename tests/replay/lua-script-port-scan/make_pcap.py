"""The shipped lua/scripts/port_scan.lua (MAX_PORTS 20, MAX_HOSTS 30, WINDOW
10 s): 10.0.0.66 tries 25 ports of one host and is reported at the 21st
distinct port, with a host recording that starts with the packets just
before it and keeps its later SYNs; 10.0.0.3 sweeps 35 hosts on port 80 and
is reported at the 31st. Neither repeats of one port (10.0.0.2: 30 flows to
443) nor a slow scan (10.0.0.4: 25 ports, one every 1.5 s) are reported.
Every packet is accepted: the script only reports."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
raw = lambda p: p

for i in range(30):  # one port, many flows: not a scan
    tcp_syn(tl, raw, "10.0.0.2", "198.51.100.20", 41000 + i, 443)
for port in range(1, 26):  # a port scan
    tcp_syn(tl, raw, "10.0.0.66", "198.51.100.10", 42000 + port, port, gap=0.05)
for host in range(1, 36):  # a host sweep
    tcp_syn(tl, raw, "10.0.0.3", f"198.51.100.{100 + host}", 43000 + host, 80)
for port in range(1, 26):  # too slow to be one
    tcp_syn(tl, raw, "10.0.0.4", "198.51.100.10", 44000 + port, 1000 + port, gap=1.5)
tl.write()
