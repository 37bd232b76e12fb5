// CidrSet::contains with small and large prefix sets (rules/cidr_set.h), IPv4
// and IPv6, half the lookups inside a prefix and half random.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "bench_rng.h"
#include "cidr_set.h"

namespace {

using tripline::Cidr;
using tripline::CidrSet;
using tripline::IpAddr;
using tripline::gen::Rng;

IpAddr random_address(Rng& rng, int family) {
  IpAddr a;
  a.family = static_cast<uint8_t>(family);
  for (size_t i = 0; i < a.size(); ++i) a.bytes[i] = static_cast<uint8_t>(rng.next());
  return a;
}

// Prefix lengths as block lists and allow lists have them: mostly /24 and /32
// (v4), /48, /64 and /128 (v6), some shorter (short v4 prefixes stay rare, or
// 10k random ones would cover most of the address space).
uint8_t prefix_length(Rng& rng, int family) {
  static constexpr uint8_t kV4[] = {16, 20, 22, 24, 24, 24, 24, 24, 28, 32, 32, 32, 32, 32};
  static constexpr uint8_t kV6[] = {29, 32, 36, 40, 44, 48, 48, 56, 64, 64, 64, 128, 128};
  return family == 4 ? kV4[rng.below(std::size(kV4))] : kV6[rng.below(std::size(kV6))];
}

void BM_CidrContains(benchmark::State& state) {
  const size_t prefixes = static_cast<size_t>(state.range(0));
  const int family = static_cast<int>(state.range(1));
  Rng rng(42);
  CidrSet set;
  std::vector<Cidr> added;
  for (size_t i = 0; i < prefixes; ++i) {
    Cidr c;
    c.length = prefix_length(rng, family);
    c.addr = tripline::mask_address(random_address(rng, family), c.length);
    set.add(c);
    added.push_back(c);
  }
  // Lookups: half fall inside a random prefix of the set, half are random.
  constexpr size_t kLookups = 4096;
  std::vector<IpAddr> lookups;
  for (size_t i = 0; i < kLookups; ++i) {
    IpAddr a = random_address(rng, family);
    if (i % 2 == 0) {
      const Cidr& c = added[rng.below(added.size())];
      for (unsigned bit = 0; bit < c.length; ++bit) {
        uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
        a.bytes[bit / 8] =
            static_cast<uint8_t>((c.addr.bytes[bit / 8] & mask) | (a.bytes[bit / 8] & ~mask));
      }
    }
    lookups.push_back(a);
  }

  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    bool hit = set.contains(lookups[i]);
    benchmark::DoNotOptimize(hit);
    hits += hit;
    i = (i + 1) & (kLookups - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_ratio"] =
      static_cast<double>(hits) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_CidrContains)->ArgNames({"prefixes", "v"})->ArgsProduct({{10, 10'000}, {4, 6}});

}  // namespace

BENCHMARK_MAIN();
