"""Forged DNS answers open nothing. Each forgery is followed by a connect to the
address it carried, which must be dropped with reason "unresolved":
  (a) an answer that matches an outstanding query but comes from 10.0.0.66, not
      the trusted resolver 10.0.0.53 (passed on, counted untrusted, opens nothing);
  (b) an answer from the resolver with no query at all;
  (c) an answer from the resolver with the wrong transaction id;
  (d) an answer from the resolver with the right id but another question name;
  (e) an answer from the resolver with the right id and name but another qtype;
  (f) an answer from the resolver to another client port than the query's.
(b)-(f) are dropped as "dns-unmatched". Then a genuine lookup works (its connect
is accepted) and a replay of that same answer is unmatched (the query is used up)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES, FORGER = "10.0.0.10", "10.0.0.53", "10.0.0.66"

# (a) right id, ports and question, wrong source address
dns_query(tl, eth, CLI, RES, 33001, 0x2001, "a.example.test")
dns_answer(tl, eth, FORGER, CLI, 33001, 0x2001, "a.example.test",
           [dns_rr("a.example.test", "A", 300, "203.0.113.21")])
tcp_syn(tl, eth, CLI, "203.0.113.21", 40001, 443)

# (b) no query
dns_answer(tl, eth, RES, CLI, 33002, 0x2002, "b.example.test",
           [dns_rr("b.example.test", "A", 300, "203.0.113.22")])
tcp_syn(tl, eth, CLI, "203.0.113.22", 40002, 443)

# (c) wrong transaction id
dns_query(tl, eth, CLI, RES, 33003, 0x2003, "c.example.test")
dns_answer(tl, eth, RES, CLI, 33003, 0x2103, "c.example.test",
           [dns_rr("c.example.test", "A", 300, "203.0.113.23")])
tcp_syn(tl, eth, CLI, "203.0.113.23", 40003, 443)

# (d) wrong question name
dns_query(tl, eth, CLI, RES, 33004, 0x2004, "d.example.test")
dns_answer(tl, eth, RES, CLI, 33004, 0x2004, "evil.example.test",
           [dns_rr("evil.example.test", "A", 300, "203.0.113.24")])
tcp_syn(tl, eth, CLI, "203.0.113.24", 40004, 443)

# (e) wrong question type
dns_query(tl, eth, CLI, RES, 33005, 0x2005, "e.example.test", qtype="AAAA")
dns_answer(tl, eth, RES, CLI, 33005, 0x2005, "e.example.test",
           [dns_rr("e.example.test", "A", 300, "203.0.113.25")], qtype="A")
tcp_syn(tl, eth, CLI, "203.0.113.25", 40005, 443)

# (f) wrong client port
dns_query(tl, eth, CLI, RES, 33006, 0x2006, "f.example.test")
dns_answer(tl, eth, RES, CLI, 33106, 0x2006, "f.example.test",
           [dns_rr("f.example.test", "A", 300, "203.0.113.26")])
tcp_syn(tl, eth, CLI, "203.0.113.26", 40006, 443)

# genuine, then the same answer replayed
dns_lookup(tl, eth, CLI, RES, 33007, 0x2007, "good.example.test",
           [dns_rr("good.example.test", "A", 300, "203.0.113.27")])
tcp_syn(tl, eth, CLI, "203.0.113.27", 40007, 443)
dns_answer(tl, eth, RES, CLI, 33007, 0x2007, "good.example.test",
           [dns_rr("good.example.test", "A", 300, "203.0.113.28")])
tcp_syn(tl, eth, CLI, "203.0.113.28", 40008, 443)
tl.write()
