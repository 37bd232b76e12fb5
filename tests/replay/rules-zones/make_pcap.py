"""Zones by CIDR. The IoT camera (10.0.50.5) resolves cam.example.test and
reaches it (egress.dns); an address it never resolved is rejected by
iot-dns-gated (alert, reason rule:iot-dns-gated), TCP and UDP alike, even one
another client resolved; its SSH attempt to a LAN host is dropped by
iot-no-lan while its DNS query passes. The laptop (10.0.0.10) in the
monitored LAN reaches an unresolved address with a would_block alert only."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = eth_per_address  # each client address its own host
CAM, LAPTOP, RES = "10.0.50.5", "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CAM, RES, 33000, 0xc001, "cam.example.test",
           [dns_rr("cam.example.test", "A", 300, "203.0.113.20")])
tcp_session(tl, eth, CAM, "203.0.113.20", 40001, 443)
tcp_syn(tl, eth, CAM, "203.0.113.21", 40002, 443)
tl.add(eth(IP(src=CAM, dst="198.51.100.7") / UDP(sport=40003, dport=123) / b"ntp?"))
dns_lookup(tl, eth, LAPTOP, RES, 33001, 0xc002, "shared.example.test",
           [dns_rr("shared.example.test", "A", 300, "203.0.113.30")])
tcp_syn(tl, eth, CAM, "203.0.113.30", 40004, 443)
tcp_syn(tl, eth, CAM, "10.0.0.10", 40005, 22)
tcp_syn(tl, eth, LAPTOP, "203.0.113.21", 40006, 443)
tl.write()
