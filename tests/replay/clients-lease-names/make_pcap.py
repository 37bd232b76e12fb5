"""Client names from DHCP leases ([clients] leases = ["dnsmasq.leases"]):
laptop 02:00:00:00:0a:01 (lease 10.0.0.10 "laptop") resolves
dual.example.test (A and AAAA) over IPv4 and connects over IPv4 and from
fd00::10 over IPv6: both flows carry tripline.client_name "laptop" (the
IPv6 one by its host, the lease names only its IPv4 address). Tablet
02:00:00:00:0c:01 at fd00::30 has only an IPv6 lease (an IAID, no MAC):
named "tablet" by address, its unresolved flow refused. Phone
02:00:00:00:0b:01 (10.0.0.20) has a lease without a name: its refused flow
is unnamed."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

LAPTOP, PHONE, TABLET, GATEWAY = ("02:00:00:00:0a:01", "02:00:00:00:0b:01", "02:00:00:00:0c:01",
                                  "02:00:00:00:00:fe")
RES = "10.0.0.53"
MACS = {"10.0.0.10": LAPTOP, "fd00::10": LAPTOP, "10.0.0.20": PHONE, "fd00::30": TABLET,
        RES: GATEWAY}


def eth(p):
    src = p[IPv6].src if IPv6 in p else p[IP].src
    return Ether(src=MACS.get(src, GATEWAY), dst=GATEWAY if MACS.get(src) != GATEWAY else LAPTOP) / p


tl = Timeline()
dns_lookup(tl, eth, "10.0.0.10", RES, 33000, 0x7101, "dual.example.test",
           [dns_rr("dual.example.test", "AAAA", 300, "2001:db8::80")], qtype="AAAA")
dns_lookup(tl, eth, "10.0.0.10", RES, 33001, 0x7102, "dual.example.test",
           [dns_rr("dual.example.test", "A", 300, "203.0.113.80")])
tcp_session(tl, eth, "10.0.0.10", "203.0.113.80", 40001, 443)
tcp_session(tl, eth, "fd00::10", "2001:db8::80", 40002, 443, ipcls=IPv6)
tcp_syn(tl, eth, "fd00::30", "2001:db8::99", 40003, 443, ipcls=IPv6)
tcp_syn(tl, eth, "10.0.0.20", "203.0.113.80", 40004, 443)
tl.write()
