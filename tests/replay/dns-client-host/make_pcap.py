"""Client scope is per host (client_identity = "host", the default): laptop
02:00:00:00:0a:01 has 10.0.0.10, fd00::10 and a temporary address that
rotates to fd00::7e57:1; it asks the IPv4 resolver 10.0.0.53 for
dual.example.test AAAA (2001:db8::80) and A (203.0.113.80), over IPv4. Then:
- laptop over IPv6 from fd00::10 to 2001:db8::80: accepted ("dns"), the same host;
- laptop from its rotated temporary address fd00::7e57:1: accepted, the same host;
- laptop over IPv4 to 203.0.113.80: accepted;
- phone 02:00:00:00:0b:01 (fd00::20, then 10.0.0.20), which never asked:
  dropped "other-client" both ways;
- laptop to the never-answered 2001:db8::99: dropped "unresolved".
The resolver's answers come from the gateway's MAC, not the laptop's.
dns-client-address replays the same packets with client_identity = "address"."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

LAPTOP, PHONE, GATEWAY = "02:00:00:00:0a:01", "02:00:00:00:0b:01", "02:00:00:00:00:fe"
RES = "10.0.0.53"
MACS = {"10.0.0.10": LAPTOP, "fd00::10": LAPTOP, "fd00::7e57:1": LAPTOP,
        "10.0.0.20": PHONE, "fd00::20": PHONE, RES: GATEWAY}


def eth(p):
    src = p[IPv6].src if IPv6 in p else p[IP].src
    return Ether(src=MACS.get(src, GATEWAY), dst=GATEWAY if MACS.get(src) != GATEWAY else LAPTOP) / p


tl = Timeline()
dns_lookup(tl, eth, "10.0.0.10", RES, 33000, 0x7001, "dual.example.test",
           [dns_rr("dual.example.test", "AAAA", 300, "2001:db8::80")], qtype="AAAA")
dns_lookup(tl, eth, "10.0.0.10", RES, 33001, 0x7002, "dual.example.test",
           [dns_rr("dual.example.test", "A", 300, "203.0.113.80")])
tcp_session(tl, eth, "fd00::10", "2001:db8::80", 40001, 443, ipcls=IPv6)
tcp_session(tl, eth, "fd00::7e57:1", "2001:db8::80", 40002, 443, ipcls=IPv6)
tcp_syn(tl, eth, "10.0.0.10", "203.0.113.80", 40003, 443)
tcp_syn(tl, eth, "fd00::20", "2001:db8::80", 40004, 443, ipcls=IPv6)
tcp_syn(tl, eth, "10.0.0.20", "203.0.113.80", 40005, 443)
tcp_syn(tl, eth, "fd00::10", "2001:db8::99", 40006, 443, ipcls=IPv6)
tl.write()
