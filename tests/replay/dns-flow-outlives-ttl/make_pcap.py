"""An established flow outlives its address (min_ttl 1, grace 2). The resolver
answers long.example.test A 203.0.113.90 with TTL 5; the client connects at t+1
and keeps the connection busy, a request/response every 2 s until t+15, then
closes it: every packet is accepted ("dns": the flow was judged when it started).
A NEW connection to the same address at t+10 (past TTL + grace) is dropped
"expired"."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES, SRV, SP, DP = "10.0.0.10", "10.0.0.53", "203.0.113.90", 40001, 443

dns_lookup(tl, eth, CLI, RES, 33000, 0x9001, "long.example.test",
           [dns_rr("long.example.test", "A", 5, SRV)])
t_answer = tl.t
at = lambda offset: t_answer + offset - tl.t

c, s = 1000, 5000
up = lambda flags, data=b"", gap=0.01: tl.add(eth(IP(src=CLI, dst=SRV) / TCP(
    sport=SP, dport=DP, flags=flags, seq=c, ack=s) / data), gap)
down = lambda flags, data=b"", gap=0.01: tl.add(eth(IP(src=SRV, dst=CLI) / TCP(
    sport=DP, dport=SP, flags=flags, seq=s, ack=c) / data), gap)

tl.add(eth(IP(src=CLI, dst=SRV) / TCP(sport=SP, dport=DP, flags="S", seq=c)), at(1.0))
c += 1
tl.add(eth(IP(src=SRV, dst=CLI) / TCP(sport=DP, dport=SP, flags="SA", seq=s, ack=c)))
s += 1
up("A")
for k in range(1, 8):  # t+3, t+5, ... t+15
    if k == 5:
        tcp_syn(tl, eth, CLI, SRV, 40002, DP, gap=at(10.0))  # a new flow, past TTL + grace
    req, resp = b"ping %d\n" % k, b"pong %d\n" % k
    up("PA", req, gap=at(1.0 + 2 * k))
    c += len(req)
    down("PA", resp)
    s += len(resp)
up("FA")
c += 1
down("FA")
s += 1
up("A")
tl.write()
