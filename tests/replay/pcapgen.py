"""Small helpers the replay cases use to write deterministic pcaps with scapy."""
import sys

from scapy.all import (ARP, Dot1Q, Ether, ICMP, IP, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, Raw, TCP, UDP, ICMPv6EchoRequest, ICMPv6EchoReply,
                       fragment, fragment6, wrpcap)

T0 = 1767225600.0  # 2026-01-01T00:00:00Z


class Timeline:
    """Packets with strictly increasing times (10 ms apart unless told)."""

    def __init__(self):
        self.t = T0
        self.pkts = []

    def add(self, pkt, gap=0.01):
        self.t += gap
        pkt.time = self.t
        self.pkts.append(pkt)
        return pkt

    def write(self, linktype=None):
        out = sys.argv[1]
        wrpcap(out, self.pkts, linktype=linktype)


def tcp_session(tl, wrap, cli, srv, sport, dport, data_up=b"GET / HTTP/1.0\r\n\r\n",
                data_down=b"HTTP/1.0 200 OK\r\n\r\nhello", close="fin", ipcls=IP):
    """Handshake, one request, one response, then FIN both ways or RST."""
    c, s = 1000, 5000
    tl.add(wrap(ipcls(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags="S", seq=c)))
    tl.add(wrap(ipcls(src=srv, dst=cli) / TCP(sport=dport, dport=sport, flags="SA", seq=s, ack=c + 1)))
    tl.add(wrap(ipcls(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags="A", seq=c + 1, ack=s + 1)))
    tl.add(wrap(ipcls(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags="PA", seq=c + 1, ack=s + 1) / data_up))
    c += 1 + len(data_up)
    tl.add(wrap(ipcls(src=srv, dst=cli) / TCP(sport=dport, dport=sport, flags="PA", seq=s + 1, ack=c) / data_down))
    s += 1 + len(data_down)
    if close == "rst":
        tl.add(wrap(ipcls(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags="R", seq=c)))
        return
    tl.add(wrap(ipcls(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags="FA", seq=c, ack=s)))
    tl.add(wrap(ipcls(src=srv, dst=cli) / TCP(sport=dport, dport=sport, flags="FA", seq=s, ack=c + 1)))
    tl.add(wrap(ipcls(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags="A", seq=c + 1, ack=s + 1)))


# ---- DNS (the DNS-gated egress cases) ----

from scapy.all import DNS, DNSQR, DNSRR  # noqa: E402


def dns_rr(owner, rtype, ttl, rdata):
    """One answer record: ("www.example.test", "CNAME", 300, "cdn.example.test")."""
    return DNSRR(rrname=owner, type=rtype, ttl=ttl, rdata=rdata)


def dns_query_msg(qid, qname, qtype="A"):
    return DNS(id=qid, rd=1, qd=DNSQR(qname=qname, qtype=qtype))


def dns_answer_msg(qid, qname, records, qtype="A", rcode=0):
    an = None
    for r in records:
        an = r if an is None else an / r
    return DNS(id=qid, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=qname, qtype=qtype), an=an)


def dns_query(tl, wrap, cli, res, sport, qid, qname, qtype="A", ipcls=IP, gap=0.01):
    """A UDP query from cli:sport to res:53."""
    return tl.add(wrap(ipcls(src=cli, dst=res) / UDP(sport=sport, dport=53) /
                       dns_query_msg(qid, qname, qtype)), gap)


def dns_answer(tl, wrap, res, cli, sport, qid, qname, records, qtype="A", ipcls=IP, gap=0.01,
               rport=53):
    """A UDP answer from res:rport to cli:sport with the given answer records."""
    return tl.add(wrap(ipcls(src=res, dst=cli) / UDP(sport=rport, dport=sport) /
                       dns_answer_msg(qid, qname, records, qtype)), gap)


def dns_lookup(tl, wrap, cli, res, sport, qid, qname, records, qtype="A", ipcls=IP):
    """Query and its matching answer."""
    dns_query(tl, wrap, cli, res, sport, qid, qname, qtype, ipcls)
    dns_answer(tl, wrap, res, cli, sport, qid, qname, records, qtype, ipcls)


def tcp_syn(tl, wrap, cli, srv, sport, dport, ipcls=IP, gap=0.01, seq=1000):
    """A lone SYN (a connection attempt that gets no answer)."""
    return tl.add(wrap(ipcls(src=cli, dst=srv) / TCP(sport=sport, dport=dport, flags="S", seq=seq)),
                  gap)


# ---- hosts (client scope is per host: the Ethernet source of a pcap) ----

def mac_of_ip(addr):
    """A stable locally administered MAC for an address: one host per address."""
    digits = [int(b) for b in addr.encode()]
    h = 0
    for d in digits:
        h = (h * 131 + d) & 0xFFFFFFFF
    return "02:%02x:%02x:%02x:%02x:01" % ((h >> 24) & 0xFF, (h >> 16) & 0xFF, (h >> 8) & 0xFF, h & 0xFF)


def eth_per_address(p):
    """Ethernet framing where every source address is a host of its own."""
    src = p[IPv6].src if IPv6 in p else p[IP].src
    return Ether(src=mac_of_ip(src), dst="02:00:00:00:00:02") / p
