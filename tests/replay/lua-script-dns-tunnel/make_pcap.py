"""The shipped dns_tunnel.lua on one client's lookups:
  www.example.test, mail.example.test          ordinary names: pass, open
  a 45-character label under t.example.net     dropped (label too long), alert
  a 32-character base32 label under t.example.net   dropped (random-looking),
                                               no second alert (same domain, same minute)
  aaaaaaaaaaaaaaaaaaaaaaaaa.example.org         25 characters, one letter: low entropy, passes
  105 short names under cdn.example.com in a minute: the first 100 pass, the
  rest are dropped with one alert (too many names a minute)
  after a minute, a name under cdn.example.com passes again
  a connect to an address a dropped answer carried is refused (unresolved)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"
qid = [0x1000]
sport = [33000]


def lookup(name, addr):
    qid[0] += 1
    sport[0] += 1
    dns_lookup(tl, eth, CLI, RES, sport[0], qid[0], name, [dns_rr(name, "A", 60, addr)])


lookup("www.example.test", "203.0.113.80")
lookup("mail.example.test", "203.0.113.25")
lookup("x" * 45 + ".t.example.net", "198.51.100.1")
lookup("mzxw6ytboi2dsnzqgq4tcmrtgu3tioa.t.example.net", "198.51.100.2")
lookup("a" * 25 + ".example.org", "203.0.113.30")
for i in range(105):
    lookup("n%d.cdn.example.com" % i, "203.0.113.%d" % (100 + i % 50))
tcp_syn(tl, eth, CLI, "198.51.100.2", 40001, 443)   # its answer was dropped
tcp_syn(tl, eth, CLI, "203.0.113.80", 40002, 443)   # www.example.test: open
tl.t += 61                                           # a minute later: counts start over
lookup("later.cdn.example.com", "203.0.113.99")
tl.write()
