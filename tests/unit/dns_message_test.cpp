#include "dns_message.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "dns_wire_builder.h"

namespace tripline {
namespace {

using Bytes = std::vector<uint8_t>;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// Builds a DNS message with ldns: question (qname, qtype), answer RRs in zone-file
// text, e.g. "www.example.com. 300 IN A 192.0.2.1".
Bytes build(const char* qname, ldns_rr_type qtype, std::initializer_list<const char*> answers,
            bool response = true, uint16_t id = 0x1234,
            std::initializer_list<const char*> additional = {}) {
  return test::build_dns(qname, qtype, answers, response, id, additional);
}

DnsMessage parse_ok(const Bytes& wire) {
  DnsMessage m;
  EXPECT_EQ(parse_dns_message(wire, m), DnsParseStatus::Ok);
  return m;
}

TEST(DnsMessage, ParsesQuery) {
  Bytes q = build("WWW.Example.COM.", LDNS_RR_TYPE_AAAA, {}, false, 0xbeef);
  DnsMessage m = parse_ok(q);
  EXPECT_EQ(m.id, 0xbeef);
  EXPECT_FALSE(m.qr);
  EXPECT_TRUE(m.rd);
  EXPECT_EQ(m.opcode, 0);
  EXPECT_EQ(m.question.name, "www.example.com");
  EXPECT_EQ(m.question.qtype, dns_type::AAAA);
  EXPECT_EQ(m.question.qclass, kDnsClassIn);
  EXPECT_TRUE(m.answers.empty());
}

TEST(DnsMessage, ParsesAAndAaaaAndCname) {
  Bytes r = build("www.example.com.", LDNS_RR_TYPE_A,
                  {"www.example.com. 300 IN CNAME Edge.CDN.net.", "edge.cdn.net. 20 IN A 192.0.2.1",
                   "edge.cdn.net. 20 IN A 192.0.2.2", "edge.cdn.net. 30 IN AAAA 2001:db8::1"});
  DnsMessage m = parse_ok(r);
  EXPECT_TRUE(m.qr);
  EXPECT_EQ(m.rcode, 0);
  ASSERT_EQ(m.answers.size(), 4u);
  EXPECT_EQ(m.answers[0].type, dns_type::CNAME);
  EXPECT_EQ(m.answers[0].owner, "www.example.com");
  EXPECT_EQ(m.answers[0].target, "edge.cdn.net");
  EXPECT_EQ(m.answers[0].ttl, 300u);
  EXPECT_EQ(m.answers[1].addr, ip("192.0.2.1"));
  EXPECT_EQ(m.answers[1].ttl, 20u);
  EXPECT_EQ(m.answers[3].type, dns_type::AAAA);
  EXPECT_EQ(m.answers[3].addr, ip("2001:db8::1"));
  EXPECT_EQ(m.answers[3].owner, "edge.cdn.net");
}

TEST(DnsMessage, KeepsOtherTypesWithoutRdata) {
  Bytes r = build("example.com.", LDNS_RR_TYPE_TXT, {"example.com. 60 IN TXT \"hello\""});
  DnsMessage m = parse_ok(r);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, dns_type::TXT);
  EXPECT_EQ(m.answers[0].addr.family, 0);
  EXPECT_TRUE(m.answers[0].target.empty());
}

TEST(DnsMessage, RootAndEscapedNames) {
  DnsMessage m = parse_ok(build(".", LDNS_RR_TYPE_NS, {}));
  EXPECT_EQ(m.question.name, ".");
  // A label holding a dot and a space (legal on the wire) stays one label.
  Bytes hand = {0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                'A',  '.',  ' ',  0x03, 'c',  'o',  'm',  0x00, 0x00, 0x01, 0x00, 0x01};
  m = parse_ok(hand);
  EXPECT_EQ(m.question.name, "a\\.\\032.com");
}

TEST(DnsMessage, NameCompression) {
  Bytes r =
      build("a.example.com.", LDNS_RR_TYPE_A,
            {"a.example.com. 60 IN CNAME b.example.com.", "b.example.com. 60 IN A 192.0.2.9"});
  // ldns compresses: the answer owners point back into the question.
  bool has_pointer = false;
  for (size_t i = 12; i < r.size(); ++i) has_pointer |= (r[i] & 0xc0) == 0xc0;
  EXPECT_TRUE(has_pointer);
  DnsMessage m = parse_ok(r);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].owner, "a.example.com");
  EXPECT_EQ(m.answers[1].owner, "b.example.com");

  // Hand-compressed: answer owner = pointer to offset 12 (the qname).
  Bytes hand = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,
                'x',  0x03, 'c',  'o',  'm',  0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00,
                0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 10,   1,    2,    3};
  m = parse_ok(hand);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].owner, "x.com");
  EXPECT_EQ(m.answers[0].addr, ip("10.1.2.3"));
}

TEST(DnsMessage, TruncatedAtEveryLength) {
  Bytes r = build("www.example.com.", LDNS_RR_TYPE_A,
                  {"www.example.com. 300 IN CNAME edge.cdn.net.", "edge.cdn.net. 20 IN A 192.0.2.1",
                   "edge.cdn.net. 20 IN AAAA 2001:db8::1"},
                  true, 7, {"ns.cdn.net. 20 IN A 192.0.2.53"});
  DnsMessage m;
  for (size_t len = 0; len < r.size(); ++len) {
    Bytes cut(r.begin(), r.begin() + static_cast<long>(len));
    DnsParseStatus s = parse_dns_message(cut, m);
    EXPECT_NE(s, DnsParseStatus::Ok) << "length " << len;
    EXPECT_TRUE(m.answers.empty());
    EXPECT_EQ(s == DnsParseStatus::TooShort, len < 12) << "length " << len;
  }
  EXPECT_EQ(parse_dns_message(r, m), DnsParseStatus::Ok);
}

TEST(DnsMessage, CompressionLoopsAreMalformed) {
  DnsMessage m;
  // qname is a pointer to itself.
  Bytes self = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01};
  EXPECT_EQ(parse_dns_message(self, m), DnsParseStatus::Malformed);
  // Two pointers pointing at each other.
  Bytes pair = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0e, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01};
  EXPECT_EQ(parse_dns_message(pair, m), DnsParseStatus::Malformed);
  // A label followed by a pointer back to it: the name would grow forever.
  Bytes grow = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x01, 'a', 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01};
  EXPECT_EQ(parse_dns_message(grow, m), DnsParseStatus::Malformed);
  // Pointer beyond the end.
  Bytes out = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0x00, 0x01, 0x00, 0x01};
  EXPECT_EQ(parse_dns_message(out, m), DnsParseStatus::Malformed);
}

TEST(DnsMessage, QuestionCountAndSize) {
  DnsMessage m;
  Bytes none = {0xab, 0xcd, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(parse_dns_message(none, m), DnsParseStatus::NoQuestion);
  EXPECT_EQ(m.id, 0xabcd);
  EXPECT_TRUE(m.qr);
  Bytes two = {0, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1, 1, 'b', 0, 0, 1, 0, 1};
  EXPECT_EQ(parse_dns_message(two, m), DnsParseStatus::Ok);
  EXPECT_EQ(m.question.name, "a");
  ASSERT_EQ(m.more_questions.size(), 1u);
  EXPECT_EQ(m.more_questions[0].name, "b");
  Bytes big = build("example.com.", LDNS_RR_TYPE_A, {});
  big.resize(70000);
  EXPECT_EQ(parse_dns_message(big, m), DnsParseStatus::Oversize);
  EXPECT_EQ(parse_dns_message({}, m), DnsParseStatus::TooShort);
}

// Two questions, the first name ending in a pointer forward to the second's
// name (legal: RFC 1035 only says "a prior occurrence", ldns and resolvers
// follow it): both questions parse, as does the answer echoing them.
TEST(DnsMessage, TwoQuestionsWithForwardPointer) {
  Bytes head = {0x12, 0x34, 0x81, 0x80, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
  // offset 12: "www" + pointer to offset 22; offset 22: "example.test"
  Bytes q1 = {3, 'w', 'w', 'w', 0xc0, 22, 0x00, 0x01, 0x00, 0x01};
  Bytes q2 = {7,   'e', 'x', 'a', 'm', 'p',  'l',  'e',  4,
              't', 'e', 's', 't', 0,   0x00, 0x1c, 0x00, 0x01};
  Bytes an = {0xc0, 12, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 192, 0, 2, 7};
  Bytes wire = head;
  wire.insert(wire.end(), q1.begin(), q1.end());
  wire.insert(wire.end(), q2.begin(), q2.end());
  wire.insert(wire.end(), an.begin(), an.end());
  DnsMessage m = parse_ok(wire);
  EXPECT_EQ(m.qdcount, 2u);
  EXPECT_EQ(m.question.name, "www.example.test");
  EXPECT_EQ(m.question.qtype, dns_type::A);
  ASSERT_EQ(m.more_questions.size(), 1u);
  EXPECT_EQ(m.more_questions[0].name, "example.test");
  EXPECT_EQ(m.more_questions[0].qtype, dns_type::AAAA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].owner, "www.example.test");
  EXPECT_EQ(m.answers[0].addr, ip("192.0.2.7"));
  // A later parse of a one-question message forgets the second question.
  DnsMessage again;
  ASSERT_EQ(parse_dns_message(wire, again), DnsParseStatus::Ok);
  ASSERT_EQ(parse_dns_message(build("x.example.test.", LDNS_RR_TYPE_A, {}), again),
            DnsParseStatus::Ok);
  EXPECT_TRUE(again.more_questions.empty());
}

// A header-only FORMERR (12 bytes, no question) is well-formed: NoQuestion
// with its header, not Malformed.
TEST(DnsMessage, HeaderOnlyFormerr) {
  Bytes formerr = {0xbe, 0xef, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
  DnsMessage m;
  EXPECT_EQ(parse_dns_message(formerr, m), DnsParseStatus::NoQuestion);
  EXPECT_EQ(m.id, 0xbeef);
  EXPECT_TRUE(m.qr);
  EXPECT_EQ(m.rcode, 1);
  EXPECT_EQ(m.qdcount, 0u);
  EXPECT_EQ(m.ancount, 0u);
  // A question count the message does not hold is still malformed.
  Bytes lying = formerr;
  lying[5] = 1;
  EXPECT_EQ(parse_dns_message(lying, m), DnsParseStatus::Malformed);
}

TEST(DnsMessage, BadAddressRdataIsRejected) {
  // A record with rdlength 5.
  Bytes bad = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
               0x01, 'x',  0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00,
               0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x05, 10,   1,    2,    3,    4};
  DnsMessage m;
  EXPECT_EQ(parse_dns_message(bad, m), DnsParseStatus::BadRdata);
  EXPECT_TRUE(m.answers.empty());
  EXPECT_EQ(m.id, 0x1234);
  // rdlength 3: the address would run into the next bytes.
  bad[30] = 0x03;
  bad.pop_back();
  bad.pop_back();
  EXPECT_EQ(parse_dns_message(bad, m), DnsParseStatus::Malformed);
  // A CNAME whose target name runs past its RDLENGTH.
  Bytes cname = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                 0x01, 'x',  0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00,
                 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x02, 0x01, 'y',  0x00};
  EXPECT_EQ(parse_dns_message(cname, m), DnsParseStatus::Malformed);
}

TEST(DnsMessage, RepeatedTsigDoesNotLeak) {
  // ldns_wire2pkt leaks an RR per extra TSIG; the parser must not (LeakSanitizer
  // checks at exit under the asan preset).
  Bytes w = {0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 3, 1, 'x', 0, 0, 1, 0, 1};
  const uint8_t tsig[] = {0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 17, 0, 0, 0,
                          0, 0, 0,   0, 0,   0, 0, 0, 0, 0, 0,  0, 0, 0};
  for (int i = 0; i < 3; ++i) w.insert(w.end(), std::begin(tsig), std::end(tsig));
  DnsMessage m;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(parse_dns_message(w, m), DnsParseStatus::Ok);
  uint8_t out[512];
  EXPECT_EQ(make_nxdomain(w, out).status, DnsRewriteStatus::Ok);
}

TEST(DnsChain, FollowsCnamesFromQname) {
  DnsMessage m = parse_ok(
      build("www.example.com.", LDNS_RR_TYPE_A,
            {"www.example.com. 300 IN CNAME a.cdn.net.", "a.cdn.net. 100 IN CNAME b.cdn.net.",
             "b.cdn.net. 200 IN A 192.0.2.1", "b.cdn.net. 20 IN A 192.0.2.2"}));
  ResolvedChain c = resolve_chain(m);
  EXPECT_EQ(c.status, DnsChainStatus::Ok);
  EXPECT_EQ(c.names, (std::vector<std::string>{"www.example.com", "a.cdn.net", "b.cdn.net"}));
  ASSERT_EQ(c.addrs.size(), 2u);
  EXPECT_EQ(c.addrs[0].addr, ip("192.0.2.1"));
  EXPECT_EQ(c.addrs[0].ttl, 100u);  // min over the chain
  EXPECT_EQ(c.addrs[1].ttl, 20u);
  EXPECT_EQ(c.chain_of(c.addrs[0]).size(), 3u);
  EXPECT_EQ(c.chain_of(c.addrs[0]).front(), "www.example.com");
}

TEST(DnsChain, AnswerOrderDoesNotMatter) {
  DnsMessage m =
      parse_ok(build("www.example.com.", LDNS_RR_TYPE_AAAA,
                     {"b.cdn.net. 200 IN AAAA 2001:db8::2", "a.cdn.net. 100 IN CNAME b.cdn.net.",
                      "www.example.com. 300 IN CNAME a.cdn.net."}));
  ResolvedChain c = resolve_chain(m);
  ASSERT_EQ(c.addrs.size(), 1u);
  EXPECT_EQ(c.addrs[0].addr, ip("2001:db8::2"));
  EXPECT_EQ(c.addrs[0].type, dns_type::AAAA);
  EXPECT_EQ(c.addrs[0].chain_len, 3);
}

TEST(DnsChain, IgnoresAddressesOffTheChain) {
  DnsMessage m = parse_ok(build(
      "www.example.com.", LDNS_RR_TYPE_A,
      {"www.example.com. 300 IN CNAME a.cdn.net.", "a.cdn.net. 60 IN A 192.0.2.1",
       "bank.example.org. 86400 IN A 198.51.100.66", "unrelated.net. 60 IN CNAME a.cdn.net."}));
  ResolvedChain c = resolve_chain(m);
  ASSERT_EQ(c.addrs.size(), 1u);
  EXPECT_EQ(c.addrs[0].addr, ip("192.0.2.1"));
  EXPECT_EQ(c.names.size(), 2u);
}

TEST(DnsChain, AddressOnIntermediateName) {
  DnsMessage m = parse_ok(
      build("x.example.com.", LDNS_RR_TYPE_A,
            {"x.example.com. 300 IN A 192.0.2.7", "x.example.com. 300 IN CNAME y.example.com.",
             "y.example.com. 50 IN A 192.0.2.8"}));
  ResolvedChain c = resolve_chain(m);
  ASSERT_EQ(c.addrs.size(), 2u);
  EXPECT_EQ(c.addrs[0].chain_len, 1);
  EXPECT_EQ(c.addrs[0].ttl, 300u);
  EXPECT_EQ(c.addrs[1].chain_len, 2);
  EXPECT_EQ(c.addrs[1].ttl, 50u);
}

TEST(DnsChain, DetectsLoops) {
  DnsMessage m =
      parse_ok(build("a.example.", LDNS_RR_TYPE_A,
                     {"a.example. 60 IN CNAME b.example.", "b.example. 60 IN CNAME a.example.",
                      "b.example. 60 IN A 192.0.2.1"}));
  ResolvedChain c = resolve_chain(m);
  EXPECT_EQ(c.status, DnsChainStatus::Loop);
  EXPECT_EQ(c.names.size(), 2u);
  EXPECT_EQ(c.addrs.size(), 1u);

  m = parse_ok(build("a.example.", LDNS_RR_TYPE_A, {"a.example. 60 IN CNAME a.example."}));
  EXPECT_EQ(resolve_chain(m).status, DnsChainStatus::Loop);
}

TEST(DnsChain, BoundsLength) {
  std::vector<std::string> texts;
  for (int i = 0; i < 30; ++i)
    texts.push_back("n" + std::to_string(i) + ".example. 60 IN CNAME n" + std::to_string(i + 1) +
                    ".example.");
  texts.push_back("n30.example. 60 IN A 192.0.2.1");
  ldns_pkt* p = nullptr;
  ASSERT_EQ(ldns_pkt_query_new_frm_str(&p, "n0.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0),
            LDNS_STATUS_OK);
  ldns_pkt_set_qr(p, true);
  for (auto& t : texts) {
    ldns_rr* rr = nullptr;
    ASSERT_EQ(ldns_rr_new_frm_str(&rr, t.c_str(), 0, nullptr, nullptr), LDNS_STATUS_OK);
    ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
  }
  uint8_t* wire = nullptr;
  size_t size = 0;
  ASSERT_EQ(ldns_pkt2wire(&wire, p, &size), LDNS_STATUS_OK);
  Bytes b(wire, wire + size);
  std::free(wire);
  ldns_pkt_free(p);
  ResolvedChain c = resolve_chain(parse_ok(b));
  EXPECT_EQ(c.status, DnsChainStatus::TooLong);
  EXPECT_EQ(c.names.size(), kMaxDnsChain);
  EXPECT_TRUE(c.addrs.empty());
}

// ---- TCP ----

Bytes framed(const Bytes& msg) {
  Bytes out(msg.size() + 2);
  out[0] = static_cast<uint8_t>(msg.size() >> 8);
  out[1] = static_cast<uint8_t>(msg.size());
  std::copy(msg.begin(), msg.end(), out.begin() + 2);
  return out;
}

struct Collector {
  std::vector<Bytes> got;
  void operator()(std::span<const uint8_t> m) { got.emplace_back(m.begin(), m.end()); }
};

TEST(DnsTcpStream, SplitAcrossSegments) {
  Bytes msg = build("www.example.com.", LDNS_RR_TYPE_A, {"www.example.com. 60 IN A 192.0.2.1"});
  Bytes f = framed(msg);
  // Every split point, including inside the length prefix.
  for (size_t cut = 0; cut <= f.size(); ++cut) {
    DnsTcpStream s;
    Collector c;
    s.start(1000);
    EXPECT_EQ(s.feed(1000, std::span(f).first(cut), std::ref(c)), DnsTcpStream::Feed::Ok);
    EXPECT_EQ(s.feed(1000 + static_cast<uint32_t>(cut), std::span(f).subspan(cut), std::ref(c)),
              DnsTcpStream::Feed::Ok);
    ASSERT_EQ(c.got.size(), 1u) << cut;
    EXPECT_EQ(c.got[0], msg);
    EXPECT_EQ(s.buffered(), 0u);
  }
  // One byte at a time, across a sequence-number wrap.
  DnsTcpStream s;
  Collector c;
  uint32_t seq = 0xfffffff0u;
  for (uint8_t b : f) {
    s.feed(seq++, std::span<const uint8_t>(&b, 1), std::ref(c));
  }
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0], msg);
  EXPECT_EQ(s.stats().messages, 1u);
}

TEST(DnsTcpStream, TwoMessagesInOneSegment) {
  Bytes m1 = build("a.example.", LDNS_RR_TYPE_A, {"a.example. 60 IN A 192.0.2.1"});
  Bytes m2 = build("b.example.", LDNS_RR_TYPE_AAAA, {"b.example. 60 IN AAAA 2001:db8::1"});
  Bytes seg = framed(m1);
  Bytes f2 = framed(m2);
  seg.insert(seg.end(), f2.begin(), f2.end());
  seg.insert(seg.end(), f2.begin(), f2.begin() + 5);  // and the start of a third
  DnsTcpStream s;
  Collector c;
  s.feed(1, seg, std::ref(c));
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_EQ(c.got[0], m1);
  EXPECT_EQ(c.got[1], m2);
  EXPECT_EQ(s.buffered(), 5u);
  s.feed(1 + static_cast<uint32_t>(seg.size()), std::span(f2).subspan(5), std::ref(c));
  ASSERT_EQ(c.got.size(), 3u);
  EXPECT_EQ(c.got[2], m2);
}

TEST(DnsTcpStream, GapResetsAndResyncs) {
  Bytes m1 = build("a.example.", LDNS_RR_TYPE_A, {"a.example. 60 IN A 192.0.2.1"});
  Bytes f = framed(m1);
  DnsTcpStream s;
  Collector c;
  s.start(100);
  s.feed(100, std::span(f).first(10), std::ref(c));
  EXPECT_EQ(s.buffered(), 10u);
  // Segment 10..20 lost; a whole new message arrives later.
  EXPECT_EQ(s.feed(100 + static_cast<uint32_t>(f.size()) + 50, f, std::ref(c)),
            DnsTcpStream::Feed::Gap);
  EXPECT_EQ(s.stats().gaps, 1u);
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0], m1);
}

TEST(DnsTcpStream, RetransmissionsAreHarmless) {
  Bytes m1 = build("a.example.", LDNS_RR_TYPE_A, {"a.example. 60 IN A 192.0.2.1"});
  Bytes f = framed(m1);
  DnsTcpStream s;
  Collector c;
  s.feed(5, std::span(f).first(20), std::ref(c));
  EXPECT_EQ(s.feed(5, std::span(f).first(20), std::ref(c)), DnsTcpStream::Feed::Duplicate);
  // Overlapping retransmission carrying new bytes too.
  EXPECT_EQ(s.feed(15, std::span(f).subspan(10), std::ref(c)), DnsTcpStream::Feed::Ok);
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0], m1);
  EXPECT_EQ(s.stats().duplicates, 1u);
}

TEST(DnsTcpStream, OversizeAndZeroLengthReset) {
  DnsTcpStream s(512);
  Collector c;
  Bytes big = {0x02, 0x01, 1, 2, 3};  // 513 > limit
  EXPECT_EQ(s.feed(0, big, std::ref(c)), DnsTcpStream::Feed::Oversize);
  EXPECT_EQ(s.buffered(), 0u);
  Bytes zero = {0x00, 0x00, 0x00, 0x01, 0xaa};
  EXPECT_EQ(s.feed(5, zero, std::ref(c)), DnsTcpStream::Feed::Oversize);
  EXPECT_EQ(s.stats().oversize, 2u);
  EXPECT_TRUE(c.got.empty());
  // The stream goes on with the next segment.
  Bytes m1 = build("a.example.", LDNS_RR_TYPE_A, {"a.example. 60 IN A 192.0.2.1"});
  s.feed(10, framed(m1), std::ref(c));
  ASSERT_EQ(c.got.size(), 1u);
  // Default limit accepts the largest legal message and buffers it across segments.
  DnsTcpStream full;
  Bytes huge(2 + 65535, 0x41);
  huge[0] = huge[1] = 0xff;
  full.feed(0, std::span(huge).first(40000), std::ref(c));
  full.feed(40000, std::span(huge).subspan(40000), std::ref(c));
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_EQ(c.got[1].size(), 65535u);
}

// ---- rewrite ----

TEST(DnsRewrite, NullAnswerForA) {
  Bytes orig = build("ads.example.com.", LDNS_RR_TYPE_A,
                     {"ads.example.com. 300 IN CNAME t.tracker.net.",
                      "t.tracker.net. 300 IN A 203.0.113.5", "t.tracker.net. 300 IN A 203.0.113.6"},
                     true, 0x4242, {"ns.tracker.net. 300 IN A 203.0.113.53"});
  uint8_t out[512];
  DnsRewriteResult r = rewrite_answer_null(orig, out, 60);
  ASSERT_EQ(r.status, DnsRewriteStatus::Ok);
  DnsMessage m = parse_ok(Bytes(out, out + r.length));
  EXPECT_EQ(m.id, 0x4242);
  EXPECT_TRUE(m.qr);
  EXPECT_TRUE(m.rd);
  EXPECT_EQ(m.rcode, kDnsRcodeNoError);
  EXPECT_EQ(m.question.name, "ads.example.com");
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].owner, "ads.example.com");
  EXPECT_EQ(m.answers[0].addr, ip("0.0.0.0"));
  EXPECT_EQ(m.answers[0].ttl, 60u);
  ResolvedChain c = resolve_chain(m);
  ASSERT_EQ(c.addrs.size(), 1u);
}

TEST(DnsRewrite, NullAnswerForAaaaAndNodataForOthers) {
  uint8_t out[512];
  Bytes orig =
      build("ads.example.com.", LDNS_RR_TYPE_AAAA, {"ads.example.com. 300 IN AAAA 2001:db8::5"});
  DnsRewriteResult r = rewrite_answer_null(orig, out);
  ASSERT_EQ(r.status, DnsRewriteStatus::Ok);
  DnsMessage m = parse_ok(Bytes(out, out + r.length));
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].addr, ip("::"));

  orig = build("ads.example.com.", LDNS_RR_TYPE_HTTPS, {});
  r = rewrite_answer_null(orig, out);
  ASSERT_EQ(r.status, DnsRewriteStatus::Ok);
  m = parse_ok(Bytes(out, out + r.length));
  EXPECT_TRUE(m.answers.empty());
  EXPECT_EQ(m.rcode, kDnsRcodeNoError);
}

TEST(DnsRewrite, KeepsQuestionCaseAndEdns) {
  ldns_pkt* p = nullptr;
  ASSERT_EQ(
      ldns_pkt_query_new_frm_str(&p, "AdS.ExAmple.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD),
      LDNS_STATUS_OK);
  ldns_pkt_set_qr(p, true);
  ldns_pkt_set_edns_udp_size(p, 1232);
  ldns_pkt_set_edns_do(p, true);
  uint8_t* wire = nullptr;
  size_t size = 0;
  ASSERT_EQ(ldns_pkt2wire(&wire, p, &size), LDNS_STATUS_OK);
  Bytes orig(wire, wire + size);
  std::free(wire);
  ldns_pkt_free(p);
  uint8_t out[512];
  DnsRewriteResult r = rewrite_answer_null(orig, out);
  ASSERT_EQ(r.status, DnsRewriteStatus::Ok);
  ldns_pkt* back = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&back, out, r.length), LDNS_STATUS_OK);
  EXPECT_EQ(ldns_pkt_edns_udp_size(back), 1232);
  EXPECT_TRUE(ldns_pkt_edns_do(back));
  char* qname = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(back), 0)));
  EXPECT_STREQ(qname, "AdS.ExAmple.com.");
  std::free(qname);
  ldns_pkt_free(back);
}

TEST(DnsRewrite, Nxdomain) {
  Bytes orig = build("ads.example.com.", LDNS_RR_TYPE_A, {"ads.example.com. 300 IN A 203.0.113.5"},
                     true, 77);
  uint8_t out[512];
  DnsRewriteResult r = make_nxdomain(orig, out);
  ASSERT_EQ(r.status, DnsRewriteStatus::Ok);
  DnsMessage m = parse_ok(Bytes(out, out + r.length));
  EXPECT_EQ(m.id, 77);
  EXPECT_EQ(m.rcode, kDnsRcodeNxDomain);
  EXPECT_EQ(m.question.name, "ads.example.com");
  EXPECT_TRUE(m.answers.empty());
}

TEST(DnsRewrite, Errors) {
  uint8_t out[512];
  Bytes query = build("ads.example.com.", LDNS_RR_TYPE_A, {}, false);
  EXPECT_EQ(rewrite_answer_null(query, out).status, DnsRewriteStatus::NotResponse);
  Bytes junk = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  EXPECT_EQ(make_nxdomain(junk, out).status, DnsRewriteStatus::BadMessage);
  Bytes orig = build("ads.example.com.", LDNS_RR_TYPE_A, {"ads.example.com. 300 IN A 203.0.113.5"});
  DnsRewriteResult r = rewrite_answer_null(orig, std::span(out).first(20));
  EXPECT_EQ(r.status, DnsRewriteStatus::BufferTooSmall);
  EXPECT_GT(r.length, 20u);
}

}  // namespace
}  // namespace tripline
