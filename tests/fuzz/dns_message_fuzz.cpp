// Fuzzes the DNS message code the observer runs on untrusted packets: the ldns
// based parser, CNAME chain following, the null/NXDOMAIN rewrites and DNS over
// TCP reassembly. Beyond "no crash, no over-read" it checks that a failed parse
// leaves no question or answers, that parsing into a message that held earlier
// inputs (as the observer does, recycling its answers' strings) gives what a
// fresh one gives, that chains stay bounded, and that every rewrite tripline
// would send to a client parses again as a response.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "dns_message.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_message_fuzz: invariant violated: %s\n", what);
  std::abort();
}

bool same(const tripline::DnsMessage& a, const tripline::DnsMessage& b) {
  auto same_q = [](const tripline::DnsQuestion& x, const tripline::DnsQuestion& y) {
    return x.name == y.name && x.qtype == y.qtype && x.qclass == y.qclass;
  };
  if (a.id != b.id || a.qr != b.qr || a.rcode != b.rcode || a.qdcount != b.qdcount ||
      a.ancount != b.ancount || !same_q(a.question, b.question) ||
      a.more_questions.size() != b.more_questions.size() || a.answers.size() != b.answers.size())
    return false;
  for (size_t i = 0; i < a.more_questions.size(); ++i)
    if (!same_q(a.more_questions[i], b.more_questions[i])) return false;
  for (size_t i = 0; i < a.answers.size(); ++i) {
    const auto& x = a.answers[i];
    const auto& y = b.answers[i];
    if (x.owner != y.owner || x.type != y.type || x.rclass != y.rclass || x.ttl != y.ttl ||
        !(x.addr == y.addr) || x.target != y.target)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tripline;
  std::span<const uint8_t> wire(data, size);

  DnsMessage msg;
  DnsParseStatus st = parse_dns_message(wire, msg);
  check(to_string(st) != nullptr, "status has a name");
  static DnsMessage reused;  // holds the previous inputs' answers, as the observer's does
  check(parse_dns_message(wire, reused) == st && same(reused, msg),
        "a reused message parses as a fresh one");
  if (st != DnsParseStatus::Ok) {
    check(msg.question.name.empty() && msg.answers.empty(), "nothing kept on error");
  } else {
    for (const auto& a : msg.answers) {
      if (a.type == dns_type::A && a.rclass == kDnsClassIn) check(a.addr.is_v4(), "A is v4");
      if (a.type == dns_type::AAAA && a.rclass == kDnsClassIn) check(a.addr.is_v6(), "AAAA is v6");
    }
    ResolvedChain chain = resolve_chain(msg);
    static ResolvedChain reused_chain;  // holds earlier inputs' names, as the observer's does
    resolve_chain(msg, reused_chain);
    check(reused_chain.status == chain.status && reused_chain.names == chain.names &&
              reused_chain.addrs.size() == chain.addrs.size(),
          "a reused chain resolves as a fresh one");
    check(chain.names.size() <= kMaxDnsChain, "chain bounded");
    check(!chain.names.empty() && chain.names[0] == msg.question.name, "chain starts at qname");
    for (const auto& a : chain.addrs) {
      check(a.chain_len >= 1 && a.chain_len <= chain.names.size(), "address chain in range");
      check(a.type == dns_type::A || a.type == dns_type::AAAA, "address type");
    }
  }

  // The rewrites must give a parseable response or a clean error.
  std::vector<uint8_t> out(4096);
  DnsRewriteResult null_r = rewrite_answer_null(wire, out, 60);
  check(to_string(null_r.status) != nullptr, "rewrite status has a name");
  if (null_r.status == DnsRewriteStatus::Ok) {
    check(null_r.length <= out.size(), "rewrite fits its buffer");
    DnsMessage again;
    check(parse_dns_message(std::span<const uint8_t>(out.data(), null_r.length), again) ==
              DnsParseStatus::Ok,
          "null rewrite parses");
    check(again.qr && again.id == msg.id, "null rewrite is a response with the same id");
  }
  DnsRewriteResult nx = make_nxdomain(wire, out);
  if (nx.status == DnsRewriteStatus::Ok) {
    DnsMessage again;
    check(parse_dns_message(std::span<const uint8_t>(out.data(), nx.length), again) ==
              DnsParseStatus::Ok,
          "nxdomain parses");
    check(again.rcode == kDnsRcodeNxDomain && again.answers.empty(), "nxdomain has no answers");
  }

  // DNS over TCP: the same bytes as a stream, cut into segments by the first byte.
  DnsTcpStream stream(4096);
  stream.start(1000);
  size_t step = size == 0 ? 1 : 1 + data[0] % 97;
  uint32_t seq = 1000;
  auto on_message = [&](std::span<const uint8_t> m) {
    check(m.size() <= 4096, "reassembled message bounded");
    DnsMessage inner;
    parse_dns_message(m, inner);
  };
  for (size_t off = 0; off < size; off += step) {
    size_t n = std::min(step, size - off);
    stream.feed(seq, wire.subspan(off, n), on_message);
    // Every seventh segment arrives twice (a retransmission).
    if ((off / step) % 7 == 6) {
      check(stream.feed(seq, wire.subspan(off, n), on_message) == DnsTcpStream::Feed::Duplicate,
            "a retransmitted segment is a duplicate");
    }
    check(stream.buffered() <= 4096 + 2, "partial message bounded");
    seq += static_cast<uint32_t>(n);
  }
  return 0;
}
