"""A script has the last word on flows the egress policy accepts:
  tracker.example.test 203.0.113.66:443  policy accept "dns"; on_flow returns
                                         "drop": dropped, reason "lua", the
                                         script's alert ("blocked")
  mail.example.test 203.0.113.25:25      policy accept "dns"; "reject", reason "lua"
  www.example.test 203.0.113.80:443      policy accept "dns"; nil keeps it
  192.0.2.25:25 (never resolved)         policy drop "unresolved"; the script's
                                         "reject" replaces it: reason "lua"; the
                                         flow stays blocked, so the egress alert
                                         is written ("blocked")"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33001, 0xa001, "tracker.example.test",
           [dns_rr("tracker.example.test", "A", 300, "203.0.113.66")])
tcp_syn(tl, eth, CLI, "203.0.113.66", 40001, 443)
dns_lookup(tl, eth, CLI, RES, 33002, 0xa002, "mail.example.test",
           [dns_rr("mail.example.test", "A", 300, "203.0.113.25")])
tcp_syn(tl, eth, CLI, "203.0.113.25", 40002, 25)
dns_lookup(tl, eth, CLI, RES, 33003, 0xa003, "www.example.test",
           [dns_rr("www.example.test", "A", 300, "203.0.113.80")])
tcp_syn(tl, eth, CLI, "203.0.113.80", 40003, 443)
tcp_syn(tl, eth, CLI, "192.0.2.25", 40004, 25)
tl.write()
