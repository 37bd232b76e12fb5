// DNS answer parsing as the DNS observer does it for every trusted answer:
// parse_dns_message (ldns, engine/dns/dns_message.h) over realistic resolver
// answers (A, AAAA, a CNAME chain through a CDN, NXDOMAIN with an SOA), then
// resolve_chain from the question to the addresses it opens. Messages are
// built by bench/dns_wire.h with name compression, as resolvers send them.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dns_message.h"
#include "dns_wire.h"
#include "ip_address.h"

namespace {

using tripline::IpAddr;
using tripline::gen::Bytes;
using tripline::gen::DnsResponseSpec;

IpAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t p[4] = {a, b, c, d};
  return IpAddr::v4(p);
}
IpAddr v6(uint16_t tail) {
  uint8_t p[16] = {0x26, 0x06, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  p[14] = static_cast<uint8_t>(tail >> 8);
  p[15] = static_cast<uint8_t>(tail);
  return IpAddr::v6(p);
}

enum Kind : int64_t { kA = 0, kAaaa = 1, kCname = 2, kNxdomain = 3 };

// One answer of each kind, the shapes popular names get from a public resolver.
Bytes make_answer(Kind kind) {
  static const std::vector<std::string> no_chain;
  // www.shop.example -> www.shop.example.cdn.example.net -> e1234.a.edge.example.net
  static const std::vector<std::string> chain = {"www.shop.example.cdn.example.net",
                                                 "e1234.a.edge.example.net"};
  static const std::vector<IpAddr> four_v4 = {v4(93, 184, 216, 34), v4(93, 184, 216, 35),
                                              v4(93, 184, 216, 36), v4(93, 184, 216, 37)};
  static const std::vector<IpAddr> two_v6 = {v6(0x6815), v6(0x6816)};
  static const std::vector<IpAddr> two_v4 = {v4(23, 45, 67, 89), v4(23, 45, 67, 90)};
  DnsResponseSpec s;
  s.id = 0x1234;
  s.ttl = 300;
  s.edns = true;
  switch (kind) {
    case kA:
      s.qname = "api.telemetry.example.com";
      s.qtype = tripline::gen::kTypeA;
      s.addrs = four_v4;
      break;
    case kAaaa:
      s.qname = "static.cdn.example.org";
      s.qtype = tripline::gen::kTypeAaaa;
      s.addrs = two_v6;
      break;
    case kCname:
      s.qname = "www.shop.example";
      s.qtype = tripline::gen::kTypeA;
      s.cname_chain = chain;
      s.addrs = two_v4;
      break;
    case kNxdomain:
      s.qname = "nonexistent-host.example.com";
      s.qtype = tripline::gen::kTypeA;
      s.rcode = tripline::gen::kRcodeNxDomain;
      s.soa = true;
      break;
  }
  return tripline::gen::dns_response(s);
}

const char* kind_name(int64_t k) {
  switch (k) {
    case kA:
      return "A x4";
    case kAaaa:
      return "AAAA x2";
    case kCname:
      return "CNAME x2 + A x2";
    default:
      return "NXDOMAIN + SOA";
  }
}

// parse_dns_message alone, reusing one DnsMessage (as the observer does).
void BM_DnsParse(benchmark::State& state) {
  const Bytes wire = make_answer(static_cast<Kind>(state.range(0)));
  tripline::DnsMessage msg;
  if (tripline::parse_dns_message(wire, msg) != tripline::DnsParseStatus::Ok) {
    state.SkipWithError("the benchmark's answer does not parse");
    return;
  }
  for (auto _ : state) {
    auto st = tripline::parse_dns_message(wire, msg);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(msg.answers.data());
  }
  state.SetLabel(kind_name(state.range(0)));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
  state.counters["answers"] = static_cast<double>(msg.answers.size());
  state.counters["wire_bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_DnsParse)->ArgName("kind")->DenseRange(kA, kNxdomain);

// What the observer pays per trusted answer before the cache insert: parse,
// then follow the CNAME chain to the addresses (buffers reused).
void BM_DnsParseAndResolve(benchmark::State& state) {
  const Bytes wire = make_answer(static_cast<Kind>(state.range(0)));
  tripline::DnsMessage msg;
  tripline::ResolvedChain chain;
  size_t addrs = 0;
  for (auto _ : state) {
    if (tripline::parse_dns_message(wire, msg) != tripline::DnsParseStatus::Ok) {
      state.SkipWithError("the benchmark's answer does not parse");
      return;
    }
    tripline::resolve_chain(msg, chain);
    addrs = chain.addrs.size();
    benchmark::DoNotOptimize(chain.addrs.data());
  }
  state.SetLabel(kind_name(state.range(0)));
  state.SetItemsProcessed(state.iterations());
  state.counters["addrs_opened"] = static_cast<double>(addrs);
}
BENCHMARK(BM_DnsParseAndResolve)->ArgName("kind")->DenseRange(kA, kNxdomain);

}  // namespace

BENCHMARK_MAIN();
