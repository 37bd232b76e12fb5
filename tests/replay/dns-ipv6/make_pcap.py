"""IPv6 all the way: client fd00::10 asks the IPv6 resolver fd00::53 (over IPv6)
for v6.example.test AAAA; the answer is a CNAME to edge6.example.test AAAA
2001:db8::10. A TCP connection over IPv6 to 2001:db8::10 is accepted ("dns", the
flow event names v6.example.test); one to the never-answered 2001:db8::99 is
dropped "unresolved"."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "fd00::10", "fd00::53"

dns_lookup(tl, eth, CLI, RES, 33000, 0x6001, "v6.example.test", [
    dns_rr("v6.example.test", "CNAME", 300, "edge6.example.test"),
    dns_rr("edge6.example.test", "AAAA", 300, "2001:db8::10"),
], qtype="AAAA", ipcls=IPv6)
tcp_session(tl, eth, CLI, "2001:db8::10", 40001, 443, ipcls=IPv6)
tcp_syn(tl, eth, CLI, "2001:db8::99", 40002, 443, ipcls=IPv6)
tl.write()
