"""Malformed DNS from the trusted resolver, each with the id and ports of an
outstanding query (so only the parser stands between it and the cache): an answer
whose A record (203.0.113.81) is complete but which is cut inside its additional
section, a question name that is a compression pointer to itself (a loop), 40
bytes of garbage, a 5-byte stub, and an A record with a 3-byte rdata (203.0.113.82
would be its address with a byte more). Each is dropped ("dns-malformed") and opens
nothing. A garbage query from the client is counted but passed. Then the genuine
answer (203.0.113.80) arrives for the still-outstanding query: it opens its address;
a connect to it is accepted, connects to .81 and .82 are dropped "unresolved"."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES, SPORT, QID = "10.0.0.10", "10.0.0.53", 33000, 0x8001


def from_resolver(payload):
    tl.add(eth(IP(src=RES, dst=CLI) / UDP(sport=53, dport=SPORT) / Raw(payload)))


dns_query(tl, eth, CLI, RES, SPORT, QID, "good.example.test")

# cut inside the additional section, after a complete answer record
cut = dns_answer_msg(QID, "good.example.test", [dns_rr("good.example.test", "A", 300, "203.0.113.81")])
cut.ar = DNSRR(rrname="extra.example.test", type="A", ttl=300, rdata="198.51.100.1")
from_resolver(bytes(cut)[:-3])

# question name: a compression pointer to itself (offset 12)
header = struct.pack("!HHHHHH", QID, 0x8180, 1, 1, 0, 0)
loop = header + b"\xc0\x0c" + struct.pack("!HH", 1, 1) + \
    b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([203, 0, 113, 83])
from_resolver(loop)

from_resolver(struct.pack("!H", QID) + bytes((i * 37 + 11) & 0xFF for i in range(38)))
from_resolver(struct.pack("!H", QID) + b"\x81\x80\x00")

# A record with a 3-byte rdata
good = bytes(dns_answer_msg(QID, "good.example.test",
                            [dns_rr("good.example.test", "A", 300, "203.0.113.82")]))
bad_rdata = good[:-6] + b"\x00\x03" + good[-4:-1]
from_resolver(bad_rdata)

# garbage query from the client (not from a resolver: counted, passed)
tl.add(eth(IP(src=CLI, dst=RES) / UDP(sport=SPORT + 1, dport=53) / Raw(b"\x00\x01garbage!")))

dns_answer(tl, eth, RES, CLI, SPORT, QID, "good.example.test",
           [dns_rr("good.example.test", "A", 300, "203.0.113.80")])
tcp_session(tl, eth, CLI, "203.0.113.80", 40001, 443)
tcp_syn(tl, eth, CLI, "203.0.113.81", 40002, 443)
tcp_syn(tl, eth, CLI, "203.0.113.82", 40003, 443)
tcp_syn(tl, eth, CLI, "203.0.113.83", 40004, 443)
tl.write()
