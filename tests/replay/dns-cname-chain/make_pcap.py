"""DNS-gated egress through a CNAME chain: the client asks www.example.test and the
trusted resolver answers www -> cdn -> edge A 203.0.113.10, plus an A record owned by
a name off the chain (evil.example.test A 203.0.113.66, a poisoning trick). The
client then connects to 203.0.113.10 (accepted, reason "dns", the flow event names
www.example.test), to the off-chain 203.0.113.66 and to the never-answered
203.0.113.99 (both dropped, reason "unresolved")."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0x1111, "www.example.test", [
    dns_rr("www.example.test", "CNAME", 300, "cdn.example.test"),
    dns_rr("cdn.example.test", "CNAME", 300, "edge.example.test"),
    dns_rr("edge.example.test", "A", 300, "203.0.113.10"),
    dns_rr("evil.example.test", "A", 300, "203.0.113.66"),
])
tcp_session(tl, eth, CLI, "203.0.113.10", 40000, 443)
tcp_syn(tl, eth, CLI, "203.0.113.66", 40001, 443)
tcp_syn(tl, eth, CLI, "203.0.113.99", 40002, 443)
tcp_syn(tl, eth, CLI, "203.0.113.99", 40002, 443, gap=1.0)  # the retransmitted SYN: same flow
tl.write()
