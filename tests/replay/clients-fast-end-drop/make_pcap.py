"""[egress] action = "drop": a refused flow ends in the events at once.
- A SYN to a never-answered address: dropped; its flow event (reason
  "dropped", state "closed") is written right after the alert, at the SYN's
  time, not 30 s later when a "new" TCP flow would time out. The SYN sent
  again 1 s and 3 s later (same ports) stays in that closed flow: dropped,
  no new flow, no new alert.
- 35 s later (after tcp_new) the same ports start a new flow, judged again.
- UDP to a never-answered address: dropped, ended at once; the next
  datagrams share the verdict in the same flow.
- A resolved name's connection is accepted and ends with its FIN as before."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0xa101, "ok.example.test",
           [dns_rr("ok.example.test", "A", 300, "203.0.113.100")])
tcp_syn(tl, eth, CLI, "203.0.113.101", 40002, 443)
tcp_syn(tl, eth, CLI, "203.0.113.101", 40002, 443, gap=1.0)  # sent again: same closed flow
tcp_syn(tl, eth, CLI, "203.0.113.101", 40002, 443, gap=2.0)
tl.add(eth(IP(src=CLI, dst="203.0.113.102") / UDP(sport=40003, dport=123) / b"ntp?"))
tl.add(eth(IP(src=CLI, dst="203.0.113.102") / UDP(sport=40003, dport=123) / b"ntp?"), gap=0.5)
tcp_session(tl, eth, CLI, "203.0.113.100", 40001, 443)
tcp_syn(tl, eth, CLI, "203.0.113.101", 40002, 443, gap=35.0)  # after tcp_new: a new flow
tl.write()
