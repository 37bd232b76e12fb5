"""A big EDNS answer from the trusted resolver arrives as IP fragments (IPv4 and
IPv6): the answer is reassembled and judged by the fragment that completes it.
1. IPv4, in order: every fragment accepted; the client then connects to an
   answered address (accepted, reason "dns").
2. IPv4, fragments reversed (the first fragment last, before its flow is known
   from it): accepted, the answered address opens.
3. IPv6, middle fragment first: accepted, the answered address opens.
4. IPv4, a forged answer (wrong transaction id) in fragments: the completing
   fragment is dropped (dns-unmatched), a resent copy of it too; its address
   stays closed (the client's SYN to it is dropped, "unresolved").
5. IPv4, a blocked name's fragmented answer: the completing fragment is dropped
   (blocklist:block.txt); nothing opens.
6. Fragmented UDP from another host is not held (all accepted as before)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pcapgen import *  # noqa: E402,F403

tl = Timeline()
eth = lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p
CLI, RES = "10.0.0.10", "10.0.0.53"
CLI6, RES6 = "fd00::10", "fd00::53"


def big(qname, prefix, n, rtype="A"):
    sep = "." if rtype == "A" else "::"
    return [dns_rr(qname, rtype, 300, f"{prefix}{sep}{i}") for i in range(1, n + 1)]


def frag_answer(order, res, cli, sport, qid, qname, records, qtype="A", ipcls=IP, ip_id=1):
    """The answer from res:53 as three fragments, sent in the given order."""
    msg = dns_answer_msg(qid, qname, records, qtype)
    udp_len = 8 + len(bytes(msg))
    chunk = ((udp_len + 2) // 3 + 7) & ~7  # three pieces of the datagram
    if ipcls is IP:
        frags = fragment(IP(src=res, dst=cli, id=ip_id) / UDP(sport=53, dport=sport) / msg,
                         fragsize=chunk)
    else:
        pkt = (IPv6(src=res, dst=cli) / IPv6ExtHdrFragment(id=ip_id) /
               UDP(sport=53, dport=sport) / msg)
        frags = fragment6(pkt, 40 + 8 + chunk)  # fragment6 counts the whole packet
    assert len(frags) == 3, len(frags)
    for i in order:
        tl.add(eth(frags[i]))
    return frags


# 1. IPv4 in order, then a connection to an answered address.
dns_query(tl, eth, CLI, RES, 33001, 0x0101, "big.example.test")
frag_answer([0, 1, 2], RES, CLI, 33001, 0x0101, "big.example.test",
            big("big.example.test", "203.0.113", 50), ip_id=1001)
tcp_syn(tl, eth, CLI, "203.0.113.42", 40001, 443)

# 2. IPv4 reversed: the first fragment arrives last and completes the answer.
dns_query(tl, eth, CLI, RES, 33002, 0x0202, "rev.example.test")
frag_answer([2, 1, 0], RES, CLI, 33002, 0x0202, "rev.example.test",
            big("rev.example.test", "198.51.100", 50), ip_id=1002)
tcp_syn(tl, eth, CLI, "198.51.100.7", 40002, 443)

# 3. IPv6, middle fragment first.
dns_query(tl, eth, CLI6, RES6, 33003, 0x0303, "six.example.test", "AAAA", ipcls=IPv6)
frag_answer([1, 0, 2], RES6, CLI6, 33003, 0x0303, "six.example.test",
            big("six.example.test", "2001:db8:6", 30, "AAAA"), "AAAA", IPv6, ip_id=0x60003)
tcp_syn(tl, eth, CLI6, "2001:db8:6::9", 40003, 443, ipcls=IPv6)

# 4. A forged answer in fragments (wrong id), its completing fragment resent.
dns_query(tl, eth, CLI, RES, 33004, 0x0404, "forged.example.test")
frags = frag_answer([0, 2, 1], RES, CLI, 33004, 0x4444, "forged.example.test",
                    big("forged.example.test", "192.0.2", 50), ip_id=1004)
tl.add(eth(frags[1]))
tcp_syn(tl, eth, CLI, "192.0.2.5", 40004, 443)

# 5. A blocked name's fragmented answer.
dns_query(tl, eth, CLI, RES, 33005, 0x0505, "ads.example.test")
frag_answer([0, 1, 2], RES, CLI, 33005, 0x0505, "ads.example.test",
            big("ads.example.test", "203.0.113", 50), ip_id=1005)

# 6. Fragmented UDP that is no DNS answer: not held.
for f in fragment(IP(src="10.0.0.10", dst="10.0.0.20", id=1006) / UDP(sport=5000, dport=5001) /
                  (b"x" * 1400), fragsize=520):
    tl.add(eth(f))
tl.write()
