"""The DNS answer findings of issue 11, one scenario each, written as the pcap of
a replay case. Each runs in several [egress] modes (one case folder per mode:
dns-answer-<scenario>-<mode>), so the same traffic shows what each mode does.

Every scenario ends with connects to the addresses involved, so the verdicts
and events show which answers opened their address and which did not.

usage (from a case's make_pcap.py): write_case("duplicate")"""
import struct

from pcapgen import *  # noqa: F403

CLI, RES = "10.0.0.10", "10.0.0.53"


def _eth(p):
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p


def _from_resolver(tl, sport, payload, gap=0.01):
    return tl.add(_eth(IP(src=RES, dst=CLI) / UDP(sport=53, dport=sport) / Raw(payload)), gap)


def _to_resolver(tl, sport, payload, gap=0.01):
    return tl.add(_eth(IP(src=CLI, dst=RES) / UDP(sport=sport, dport=53) / Raw(payload)), gap)


def unsolicited(tl):
    """A genuine lookup (203.0.113.10), then an answer from the resolver that no
    query asked for (203.0.113.66); a connect to each address."""
    dns_lookup(tl, _eth, CLI, RES, 33000, 0xa001, "ok.example.test",
               [dns_rr("ok.example.test", "A", 300, "203.0.113.10")])
    dns_answer(tl, _eth, RES, CLI, 33001, 0xa0ff, "evil.example.test",
               [dns_rr("evil.example.test", "A", 300, "203.0.113.66")])
    tcp_syn(tl, _eth, CLI, "203.0.113.10", 40001, 443)
    tcp_syn(tl, _eth, CLI, "203.0.113.66", 40002, 443)


def duplicate(tl):
    """A lookup answered twice (as resolvers do when a client's retransmitted
    query crosses the first answer): the first answer opens 203.0.113.20, the
    second (the same records) is a duplicate and matches nothing."""
    dns_lookup(tl, _eth, CLI, RES, 33000, 0xa002, "dup.example.test",
               [dns_rr("dup.example.test", "A", 300, "203.0.113.20")])
    dns_answer(tl, _eth, RES, CLI, 33000, 0xa002, "dup.example.test",
               [dns_rr("dup.example.test", "A", 300, "203.0.113.20")])
    tcp_syn(tl, _eth, CLI, "203.0.113.20", 40001, 443)


def late(tl):
    """An answer that comes 12 s after its query (query_timeout is 10 s): late,
    it opens nothing (203.0.113.30); a connect to it follows."""
    dns_query(tl, _eth, CLI, RES, 33000, 0xa003, "slow.example.test")
    dns_answer(tl, _eth, RES, CLI, 33000, 0xa003, "slow.example.test",
               [dns_rr("slow.example.test", "A", 300, "203.0.113.30")], gap=12.0)
    tcp_syn(tl, _eth, CLI, "203.0.113.30", 40001, 443)


def malformed(tl):
    """For an outstanding query, an answer whose A record has a 3-byte rdata
    (malformed: 203.0.113.41 opens nothing), then the genuine answer
    (203.0.113.40, opens); a connect to each."""
    dns_query(tl, _eth, CLI, RES, 33000, 0xa004, "shape.example.test")
    good = bytes(dns_answer_msg(0xa004, "shape.example.test",
                                [dns_rr("shape.example.test", "A", 300, "203.0.113.41")]))
    _from_resolver(tl, 33000, good[:-6] + b"\x00\x03" + good[-4:-1])
    dns_answer(tl, _eth, RES, CLI, 33000, 0xa004, "shape.example.test",
               [dns_rr("shape.example.test", "A", 300, "203.0.113.40")])
    tcp_syn(tl, _eth, CLI, "203.0.113.40", 40001, 443)
    tcp_syn(tl, _eth, CLI, "203.0.113.41", 40002, 443)


def formerr(tl):
    """A query the resolver cannot read gets a valid 12-byte FORMERR without a
    question section (RFC 1035 allows it; resolvers send it): well-formed, it
    opens nothing and has nothing to be matched on."""
    dns_query(tl, _eth, CLI, RES, 33000, 0xa005, "odd.example.test")
    _from_resolver(tl, 33000, struct.pack("!HHHHHH", 0xa005, 0x8181, 0, 0, 0, 0))


def two_questions(tl):
    """A query with two questions whose first name ends in a compression
    pointer forward to the second question's name (www + -> example.test); the
    resolver's answer echoes both questions and answers the first
    (203.0.113.50). It matches: the connect to 203.0.113.50 is accepted."""
    def message(flags, ancount):
        q1 = b"\x03www\xc0\x16" + struct.pack("!HH", 1, 1)  # pointer to offset 22
        q2 = b"\x07example\x04test\x00" + struct.pack("!HH", 28, 1)
        head = struct.pack("!HHHHHH", 0xa006, flags, 2, ancount, 0, 0)
        return head + q1 + q2
    _to_resolver(tl, 33000, message(0x0100, 0))
    answer = message(0x8180, 1) + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + \
        bytes([203, 0, 113, 50])
    _from_resolver(tl, 33000, answer)
    tcp_syn(tl, _eth, CLI, "203.0.113.50", 40001, 443)


def snaplen_cut(tl):
    """A capture with a snaplen of 96 bytes (tcpdump -s 96): the query fits, the
    answer (five A records) is cut inside its records. It is reported as
    truncated by the capture, not as the resolver's fault, and opens nothing (a
    connect to its first address follows)."""
    dns_query(tl, _eth, CLI, RES, 33000, 0xa007, "big.example.test")
    records = [dns_rr("big.example.test", "A", 300, f"203.0.113.{60 + i}") for i in range(5)]
    whole = bytes(_eth(IP(src=RES, dst=CLI) / UDP(sport=53, dport=33000) /
                       dns_answer_msg(0xa007, "big.example.test", records)))
    cut = Raw(whole[:96])
    cut.wirelen = len(whole)
    tl.add(cut)
    tcp_syn(tl, _eth, CLI, "203.0.113.60", 40001, 443)


SCENARIOS = {f.__name__: f for f in (unsolicited, duplicate, late, malformed, formerr,
                                     two_questions, snaplen_cut)}


def write_case(name):
    tl = Timeline()
    SCENARIOS[name](tl)
    tl.write(linktype=1)  # Ethernet (the snaplen-cut record is raw bytes)
