"""TTL expiry and grace (min_ttl 1, grace 2). At t=0 the resolver answers
short.example.test A 203.0.113.30 with TTL 5, and zero.example.test A 203.0.113.31
with TTL 0 (clamped up to min_ttl, 1 s). New connections to 203.0.113.30:
  t+1  within the TTL          -> accepted "dns"
  t+6  past the TTL, in grace  -> accepted "dns"
  t+8  past TTL + grace        -> dropped "expired"
and to 203.0.113.31: t+2.5 (in grace of the clamped TTL) accepted, t+3.5 "expired".
A fresh lookup at t+9 reopens 203.0.113.30 (connect accepted again)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"

dns_lookup(tl, eth, CLI, RES, 33000, 0x3001, "short.example.test",
           [dns_rr("short.example.test", "A", 5, "203.0.113.30")])
dns_lookup(tl, eth, CLI, RES, 33001, 0x3002, "zero.example.test",
           [dns_rr("zero.example.test", "A", 0, "203.0.113.31")])
t_answer = tl.t  # both answers are within 20 ms of each other


def at(offset):
    return t_answer + offset - tl.t


tcp_syn(tl, eth, CLI, "203.0.113.30", 40001, 443, gap=at(1.0))
tcp_syn(tl, eth, CLI, "203.0.113.31", 40002, 443, gap=at(2.5))
tcp_syn(tl, eth, CLI, "203.0.113.31", 40003, 443, gap=at(3.5))
tcp_syn(tl, eth, CLI, "203.0.113.30", 40004, 443, gap=at(6.0))
tcp_syn(tl, eth, CLI, "203.0.113.30", 40005, 443, gap=at(8.0))
dns_query(tl, eth, CLI, RES, 33002, 0x3003, "short.example.test", gap=at(9.0))
dns_answer(tl, eth, RES, CLI, 33002, 0x3003, "short.example.test",
           [dns_rr("short.example.test", "A", 5, "203.0.113.30")])
tcp_syn(tl, eth, CLI, "203.0.113.30", 40006, 443)
tl.write()
