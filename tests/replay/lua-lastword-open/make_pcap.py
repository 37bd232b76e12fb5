"""A script has the last word on a flow the egress policy blocks:
  NTP to 192.0.2.123 (never resolved)  policy drop "unresolved"; on_flow
                                       returns "accept": accepted, reason "lua",
                                       no egress alert, the script's alert
                                       ("allowed"); the reply passes too
  NTP to 192.0.2.124 (never resolved)  on_flow returns nil: the policy's drop
                                       stands, reason "unresolved", egress alert
  HTTPS to a resolved address          policy accept "dns", the script keeps it"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

tl.add(eth(IP(src=CLI, dst="192.0.2.123") / UDP(sport=40123, dport=123) / (b"\x23" + b"\0" * 47)))
tl.add(eth(IP(src="192.0.2.123", dst=CLI) / UDP(sport=123, dport=40123) / (b"\x24" + b"\0" * 47)))
tl.add(eth(IP(src=CLI, dst="192.0.2.124") / UDP(sport=40124, dport=123) / (b"\x23" + b"\0" * 47)))
dns_lookup(tl, eth, CLI, RES, 33001, 0xa001, "www.example.test",
           [dns_rr("www.example.test", "A", 300, "203.0.113.80")])
tcp_syn(tl, eth, CLI, "203.0.113.80", 40001, 443)
tl.write()
