#!/usr/bin/python3
"""Writes the seed corpora of the DNS, list, config and pipeline fuzz targets
(tests/fuzz/corpus/<target>/). Run again after changing it; the files are
committed so the tests need no scapy. usage: make_corpus.py"""
import os
import struct

from scapy.all import DNS, DNSQR, DNSRR, IP, IPv6, TCP, UDP, raw

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def answer(qid, qname, qtype, rrs, rcode=0):
    an = None
    for rr in rrs:
        an = rr if an is None else an / rr
    return DNS(id=qid, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=qname, qtype=qtype),
               an=an, ancount=len(rrs))


# ---- dns_message: bare DNS messages
a = answer(7, "www.example.test", "A", [DNSRR(rrname="www.example.test", type="A", ttl=300, rdata="203.0.113.10")])
put("dns_message", "a", raw(a))
chain = answer(8, "www.example.test", "A", [
    DNSRR(rrname="www.example.test", type="CNAME", ttl=60, rdata="cdn.example.net"),
    DNSRR(rrname="cdn.example.net", type="CNAME", ttl=60, rdata="edge.cdn.example"),
    DNSRR(rrname="edge.cdn.example", type="A", ttl=20, rdata="203.0.113.11"),
    DNSRR(rrname="edge.cdn.example", type="A", ttl=20, rdata="203.0.113.12")])
put("dns_message", "cname-chain", raw(chain))
put("dns_message", "aaaa", raw(answer(9, "v6.example.test", "AAAA", [
    DNSRR(rrname="v6.example.test", type="AAAA", ttl=120, rdata="2001:db8::10")])))
put("dns_message", "nxdomain", raw(answer(10, "nope.example.test", "A", [], rcode=3)))
put("dns_message", "query", raw(DNS(id=11, rd=1, qd=DNSQR(qname="www.example.test", qtype="A"))))
# A compression pointer pointing at itself (a loop) in the answer owner name.
loop = bytearray(raw(a))
loop[-16:-14] = struct.pack(">H", 0xC000 | (len(loop) - 16))
put("dns_message", "pointer-loop", bytes(loop))
put("dns_message", "truncated", raw(chain)[:40])
# The same messages length-prefixed back to back, as DNS over TCP carries them.
put("dns_message", "tcp-stream", b"".join(struct.pack(">H", len(m)) + m for m in (raw(a), raw(chain))))

# ---- domain_list: the three list formats, comments and junk
put("domain_list", "hosts", "# hosts\n127.0.0.1 localhost\n0.0.0.0 ads.example.test\n0.0.0.0 a.b.example t2.example\n::1 ip6-localhost\n")
put("domain_list", "plain", "tracker.example\nsub.Tracker.example.\n\n; comment\nbad..name\n-bad.example\n")
put("domain_list", "adblock", "[Adblock Plus 2.0]\n! comment\n||ads.example^\n@@||good.ads.example^\n||x.example^$third-party\n##.banner\n|http://a.example/path\n")

# ---- config: a full config and some near misses
full = """[queue]
first = 0
count = 2
fail_open = true
copy_range = 65535
default_verdict = "accept"
[network]
inside = ["10.0.0.0/8", "fd00::/8"]
[flows]
tcp_new = 30
udp = 60
capacity = 1024
[log]
events = "-"
[dns]
resolvers = ["10.0.0.53", "10.0.0.54:5353", "[fd00::53]:53"]
scope = "client"
min_ttl = 5
max_ttl = 3600
grace = 30
block_mode = "nxdomain"
[egress]
mode = "enforce"
action = "reject"
allow = ["192.0.2.0/24"]
"""
put("config", "full.toml", full)
put("config", "bad-cidr.toml", "[network]\ninside = [\"10.0.0.0/33\"]\n")
put("config", "unknown-key.toml", "[queue]\nfirts = 1\n")
put("config", "wrong-type.toml", "[queue]\ncount = \"two\"\n")


# ---- pipeline: records of (clock step in 100 ms, u16 length, raw IP packet)
def records(variant, steps_and_packets):
    out = bytes([variant])
    for step, pkt in steps_and_packets:
        b = raw(pkt)
        out += bytes([step]) + struct.pack(">H", len(b)) + b
    return out


C, R, S = "10.1.0.2", "10.0.0.53", "203.0.113.10"
q = IP(src=C, dst=R) / UDP(sport=40000, dport=53) / DNS(id=7, rd=1, qd=DNSQR(qname="www.example.test", qtype="A"))
ans = IP(src=R, dst=C) / UDP(sport=53, dport=40000) / a
syn = IP(src=C, dst=S) / TCP(sport=50000, dport=80, flags="S", seq=1)
synack = IP(src=S, dst=C) / TCP(sport=80, dport=50000, flags="SA", seq=100, ack=2)
literal = IP(src=C, dst="198.51.100.1") / TCP(sport=50001, dport=443, flags="S")
put("pipeline", "resolve-then-connect", records(0, [(1, q), (1, ans), (1, syn), (1, synack), (1, literal)]))
blocked_q = IP(src=C, dst=R) / UDP(sport=40001, dport=53) / DNS(id=8, rd=1, qd=DNSQR(qname="ads.example.test", qtype="A"))
blocked_a = IP(src=R, dst=C) / UDP(sport=53, dport=40001) / answer(8, "ads.example.test", "A", [
    DNSRR(rrname="ads.example.test", type="A", ttl=300, rdata="203.0.113.66")])
for variant in (0, 1, 2):
    put("pipeline", f"blocked-mode{variant}", records(variant, [(1, blocked_q), (1, blocked_a)]))
forged = IP(src="10.9.9.9", dst=C) / UDP(sport=53, dport=40000) / a
put("pipeline", "forged", records(4, [(1, q), (1, forged), (1, syn)]))
chain_q = IP(src=C, dst=R) / UDP(sport=40002, dport=53) / DNS(id=8, rd=1, qd=DNSQR(qname="www.example.test", qtype="A"))
chain_a = IP(src=R, dst=C) / UDP(sport=53, dport=40002) / chain
put("pipeline", "cname-expiry", records(8, [(1, chain_q), (1, chain_a), (250, syn)]))
C6, R6 = "fd00::2", "fd00::53"
q6 = IPv6(src=C6, dst=R6) / UDP(sport=40003, dport=53) / DNS(id=9, rd=1, qd=DNSQR(qname="v6.example.test", qtype="AAAA"))
a6 = IPv6(src=R6, dst=C6) / UDP(sport=53, dport=40003) / answer(9, "v6.example.test", "AAAA", [
    DNSRR(rrname="v6.example.test", type="AAAA", ttl=120, rdata="2001:db8::10")])
syn6 = IPv6(src=C6, dst="2001:db8::10") / TCP(sport=50002, dport=80, flags="S")
put("pipeline", "ipv6", records(0, [(1, q6), (1, a6), (1, syn6)]))
tq = raw(DNS(id=12, rd=1, qd=DNSQR(qname="www.example.test", qtype="A")))
ta = raw(a)
tcp_q = IP(src=C, dst=R) / TCP(sport=40004, dport=53, flags="PA", seq=1000, ack=1) / (struct.pack(">H", len(tq)) + tq)
tcp_a1 = IP(src=R, dst=C) / TCP(sport=53, dport=40004, flags="PA", seq=5000, ack=1000) / (struct.pack(">H", len(ta)) + ta[:10])
tcp_a2 = IP(src=R, dst=C) / TCP(sport=53, dport=40004, flags="PA", seq=5012, ack=1000) / ta[10:]
put("pipeline", "dns-over-tcp", records(0, [(1, tcp_q), (1, tcp_a1), (1, tcp_a2), (1, syn)]))

# ---- triggers: a UDP payload "H" + n makes on_flow (or on_packet, on a
# watched flow) return or raise hostile value n (triggers_fuzz.cpp's
# `hostile` table); a plain packet after it shows the worker goes on.
HOSTILE = 20
for n in range(HOSTILE):
    first = IP(src=C, dst=S) / UDP(sport=41000 + n, dport=9999) / (b"H" + bytes([n]))
    after = IP(src=C, dst=S) / UDP(sport=42000 + n, dport=9999) / b"plain"
    put("triggers", f"hostile-{n:02d}", records(n % 4, [(1, first), (1, after)]))
watched = IP(src=C, dst=S) / UDP(sport=43000, dport=9999) / b"\x07watch"
for n in range(HOSTILE):
    again = IP(src=C, dst=S) / UDP(sport=43000, dport=9999) / (b"H" + bytes([n]))
    put("triggers", f"hostile-packet-{n:02d}", records(n % 4, [(1, watched), (1, again), (1, again)]))

# ---- triggers, on_dns: variants 4..7 have [dns] and egress on. A trusted
# answer to "hostileNN.example.test" makes on_dns return or raise hostile
# value NN; a plain lookup and connects (resolved, literal) follow.
for n in range(HOSTILE):
    name = f"hostile{n:02d}.example.test"
    hq = IP(src=C, dst=R) / UDP(sport=44000 + n, dport=53) / DNS(id=100 + n, rd=1, qd=DNSQR(qname=name, qtype="A"))
    ha = IP(src=R, dst=C) / UDP(sport=53, dport=44000 + n) / answer(100 + n, name, "A", [
        DNSRR(rrname=name, type="A", ttl=60, rdata="203.0.113.77")])
    put("triggers", f"dns-hostile-{n:02d}", records(4 + n % 4, [(1, hq), (1, ha), (1, q), (1, ans), (1, syn),
                                                              (1, literal)]))
put("triggers", "dns-chain-tcp", records(5, [(1, chain_q), (1, chain_a), (1, tcp_q), (1, tcp_a1), (1, tcp_a2),
                                            (1, syn), (1, literal)]))
