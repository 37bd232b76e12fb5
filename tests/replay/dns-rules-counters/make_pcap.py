"""dns-blocklist's traffic and lists, counted by the answer name chain "dns": the
allow rule matches once (ok.ads), the block rule four times (the blocked answers);
the @@ exception and the unlisted name match no rule. Same verdicts and events.
Block lists (block.txt: hosts and ||adblock^ lines; allow.txt), block_mode "null".
Each blocked answer is passed on rewritten (0.0.0.0 / ::, verdict accept with a
replacement, reason "blocklist:block.txt") and opens nothing, so a connect to the
original address is dropped "unresolved":
  ads.example.test A 203.0.113.50          (||ads.example.test^)
  ads.example.test AAAA 2001:db8::50       (same name, AAAA)
  telemetry.example.test A 203.0.113.52    (hosts line)
  shop.example.test CNAME cdn.example.test CNAME px.tracker.example.test A 203.0.113.51
                                           (deep CNAME: the chain's last target is listed)
Not blocked, connects accepted ("dns"):
  ok.ads.example.test A 203.0.113.53       (on the allow list)
  safe.tracker.example.test A 203.0.113.54 (@@ exception in the block list)
  news.example.test A 203.0.113.55         (listed nowhere)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"
port = iter(range(33000, 34000))
qid = iter(range(0xb001, 0xc000))


def lookup(qname, records, qtype="A"):
    dns_lookup(tl, eth, CLI, RES, next(port), next(qid), qname, records, qtype)


def connect(addr, sport):
    tcp_syn(tl, eth, CLI, addr, sport, 443)


lookup("ads.example.test", [dns_rr("ads.example.test", "A", 300, "203.0.113.50")])
connect("203.0.113.50", 40001)
lookup("ads.example.test", [dns_rr("ads.example.test", "AAAA", 300, "2001:db8::50")], qtype="AAAA")
lookup("telemetry.example.test", [dns_rr("telemetry.example.test", "A", 300, "203.0.113.52")])
connect("203.0.113.52", 40002)
lookup("shop.example.test", [
    dns_rr("shop.example.test", "CNAME", 300, "cdn.example.test"),
    dns_rr("cdn.example.test", "CNAME", 300, "px.tracker.example.test"),
    dns_rr("px.tracker.example.test", "A", 300, "203.0.113.51")])
connect("203.0.113.51", 40003)
lookup("ok.ads.example.test", [dns_rr("ok.ads.example.test", "A", 300, "203.0.113.53")])
connect("203.0.113.53", 40004)
lookup("safe.tracker.example.test", [dns_rr("safe.tracker.example.test", "A", 300, "203.0.113.54")])
connect("203.0.113.54", 40005)
lookup("news.example.test", [dns_rr("news.example.test", "A", 300, "203.0.113.55")])
connect("203.0.113.55", 40006)
tl.write()
