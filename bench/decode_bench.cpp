// decode() over the generator's packet mix (DNS, TCP and UDP flows, ICMP,
// fragments, malformed packets; IPv4 and IPv6), raw IP and Ethernet framing.
// The packets are preloaded into one buffer; one iteration decodes one packet.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bench_env.h"
#include "decode.h"
#include "traffic_gen.h"

namespace {

using tripline::gen::LinkKind;

struct Corpus {
  std::vector<uint8_t> bytes;
  struct Ref {
    uint32_t offset, length;
  };
  std::vector<Ref> packets;
};

// 50k packets (fewer in smoke mode): more than the caches hold, as live.
const Corpus& corpus(LinkKind link) {
  static Corpus corpora[2];
  Corpus& c = corpora[link == LinkKind::Ethernet ? 1 : 0];
  if (c.packets.empty()) {
    auto opts = tripline::gen::bench_gen_options(50'000);
    opts.packets = std::min<uint64_t>(opts.packets, 50'000);
    opts.link = link;
    tripline::gen::generate(opts, [&c](tripline::Timestamp, std::span<const uint8_t> frame) {
      c.packets.push_back(
          {static_cast<uint32_t>(c.bytes.size()), static_cast<uint32_t>(frame.size())});
      c.bytes.insert(c.bytes.end(), frame.begin(), frame.end());
    });
  }
  return c;
}

void BM_DecodeMix(benchmark::State& state) {
  const LinkKind link = state.range(0) ? LinkKind::Ethernet : LinkKind::Raw;
  const tripline::LinkType type =
      link == LinkKind::Ethernet ? tripline::LinkType::Ethernet : tripline::LinkType::Raw;
  const Corpus& c = corpus(link);
  const size_t n = c.packets.size();
  tripline::Decoded d;
  size_t i = 0;
  uint64_t errors = 0, bytes = 0;
  for (auto _ : state) {
    const Corpus::Ref& r = c.packets[i];
    auto err = tripline::decode(type, {c.bytes.data() + r.offset, r.length}, d);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(d.dport);
    errors += err != tripline::DecodeError::None;
    bytes += r.length;
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["error_ratio"] =
      static_cast<double>(errors) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_DecodeMix)->ArgName("ethernet")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
