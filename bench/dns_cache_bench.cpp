// DnsCache (engine/dns/dns_cache.h), the shared cache behind DNS-gated egress:
// lookup hit and miss (what a new outbound flow pays), insert of a new address
// and refresh of a known one (what a trusted answer pays per address), lookups
// by 2 worker threads while a third thread inserts answers, and the memory one
// entry costs with a million of them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_env.h"
#include "bench_rng.h"
#include "dns_cache.h"
#include "resident_memory.h"

namespace {

using tripline::DnsCache;
using tripline::DnsCacheConfig;
using tripline::IpAddr;
using tripline::Timestamp;
using tripline::gen::Rng;

constexpr Timestamp kStart = 1'767'225'600LL * tripline::kNsPerSec;

// TRIPLINE_BENCH_ITEMS (default 1,000,000) bounds every cache this file fills,
// so the CI smoke test (20,000) stays quick under ASan. Counters say the size used.
uint32_t items() {
  static const uint32_t n = std::max<uint32_t>(
      1, static_cast<uint32_t>(tripline::gen::env_u64("TRIPLINE_BENCH_ITEMS", 1'000'000)));
  return n;
}
uint32_t bounded(int64_t n) { return std::min(static_cast<uint32_t>(n), items()); }
constexpr uint32_t kClients = 1000;
constexpr uint32_t kTtl = 3600;  // nothing expires during a benchmark

// Client n: 10.0.x.y. Address n: 100.64.0.0 + n (IPv4), unique for n < 2^22;
// misses use 198.18.0.0 + n, which no answer contains.
IpAddr client_addr(uint32_t n) {
  n %= kClients;
  const uint8_t b[4] = {10, 0, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  return IpAddr::v4(b);
}
IpAddr answer_addr(uint32_t n) {
  const uint8_t b[4] = {static_cast<uint8_t>(100 + (n >> 22)),
                        static_cast<uint8_t>(64 + ((n >> 16) & 63)), static_cast<uint8_t>(n >> 8),
                        static_cast<uint8_t>(n)};
  return IpAddr::v4(b);
}
IpAddr unknown_addr(uint32_t n) {
  const uint8_t b[4] = {198, static_cast<uint8_t>(18 + ((n >> 16) & 1)),
                        static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  return IpAddr::v4(b);
}

// Answer n: address n for client n, reached by a name it shares with the
// other `per_name` - 1 addresses of its group n / per_name (default two: most
// names lead to a few addresses); one answer in four came through a CNAME.
// The chain's views point into the Answer's own strings.
struct Answer {
  std::string qname, target;
  std::vector<std::string_view> chain;
};
void make_answer(uint32_t n, Answer& a, uint32_t per_name = 2) {
  uint32_t group = n / per_name;
  a.qname = "host" + std::to_string(group) + ".example" + std::to_string(group % 97) + ".com";
  a.chain.assign(1, a.qname);
  if (n % 4 == 0) {
    a.target = "e" + std::to_string(group) + ".a.edge.example.net";
    a.chain.push_back(a.target);
  }
}

void insert_answer(DnsCache& cache, uint32_t n, Timestamp now, uint32_t per_name = 2) {
  Answer a;
  make_answer(n, a, per_name);
  cache.insert(client_addr(n), answer_addr(n), a.chain, kTtl, now);
}

std::unique_ptr<DnsCache> filled_cache(uint32_t entries, uint32_t max_entries) {
  DnsCacheConfig cfg;
  cfg.max_entries = max_entries;
  auto cache = std::make_unique<DnsCache>(cfg);
  for (uint32_t n = 0; n < entries; ++n) insert_answer(*cache, n, kStart);
  return cache;
}

struct Probe {
  IpAddr client, addr;
};
constexpr size_t kProbes = 1 << 16;

// Lookups of addresses the cache holds, each by the client that resolved it.
std::vector<Probe> hit_probes(uint32_t entries, uint64_t seed) {
  Rng rng(seed);
  std::vector<Probe> p(kProbes);
  for (auto& x : p) {
    auto n = static_cast<uint32_t>(rng.below(entries));
    x = {client_addr(n), answer_addr(n)};
  }
  return p;
}

void BM_DnsCacheLookupHit(benchmark::State& state) {
  const auto entries = bounded(state.range(0));
  auto cache = filled_cache(entries, entries * 4);
  const auto probes = hit_probes(entries, 1);
  size_t i = 0, open = 0;
  const Timestamp now = kStart + tripline::seconds(1);
  for (auto _ : state) {
    auto r = cache->lookup(probes[i].client, probes[i].addr, now);
    open += r.status == tripline::DnsLookupStatus::Open;
    benchmark::DoNotOptimize(r);
    i = (i + 1) & (kProbes - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["open_ratio"] =  // must be 1
      static_cast<double>(open) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["addresses"] = entries;  // cached (bounded by TRIPLINE_BENCH_ITEMS)
}
BENCHMARK(BM_DnsCacheLookupHit)->ArgName("entries")->Arg(1'000)->Arg(200'000);

// Addresses no answer contained: what a literal-IP connection costs to refuse.
void BM_DnsCacheLookupMiss(benchmark::State& state) {
  const auto entries = bounded(state.range(0));
  auto cache = filled_cache(entries, entries * 4);
  Rng rng(2);
  std::vector<Probe> probes(kProbes);
  for (auto& x : probes) {
    auto n = static_cast<uint32_t>(rng.below(1 << 17));
    x = {client_addr(n), unknown_addr(n)};
  }
  size_t i = 0, unknown = 0;
  for (auto _ : state) {
    auto r = cache->lookup(probes[i].client, probes[i].addr, kStart);
    unknown += r.status == tripline::DnsLookupStatus::Unknown;
    benchmark::DoNotOptimize(r);
    i = (i + 1) & (kProbes - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["unknown_ratio"] =  // must be 1
      static_cast<double>(unknown) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["addresses"] = entries;
}
BENCHMARK(BM_DnsCacheLookupMiss)->ArgName("entries")->Arg(1'000)->Arg(200'000);

// One address of one answer, never seen before. With the default bound
// (262,144 entries, shadow entries included) the cache fills early and each
// insert then also evicts the soonest-expiring entry: the steady state of a
// busy gateway. The answers' names are built untimed.
void BM_DnsCacheInsertNew(benchmark::State& state) {
  DnsCacheConfig cfg;  // defaults: client scope, 262,144 entries
  DnsCache cache(cfg);
  constexpr size_t kAnswers = 1 << 14;
  std::vector<Answer> answers(kAnswers);
  for (size_t k = 0; k < kAnswers; ++k) make_answer(static_cast<uint32_t>(k), answers[k]);
  uint32_t n = 0;
  Timestamp now = kStart;
  for (auto _ : state) {
    const Answer& a = answers[n & (kAnswers - 1)];
    cache.insert(client_addr(n), answer_addr(n), a.chain, kTtl, ++now);
    ++n;
  }
  auto st = cache.stats();
  state.SetItemsProcessed(state.iterations());
  state.counters["entries"] = static_cast<double>(st.entries);
  state.counters["evictions"] = static_cast<double>(st.evictions);
}
BENCHMARK(BM_DnsCacheInsertNew);

// The same answer again (a popular name asked for again): the entry's expiry
// is raised and its names kept.
void BM_DnsCacheInsertRefresh(benchmark::State& state) {
  const uint32_t kEntries = bounded(100'000);
  auto cache = filled_cache(kEntries, kEntries * 4);
  constexpr size_t kAnswers = 1 << 14;
  std::vector<Answer> answers(kAnswers);
  Rng rng(3);
  std::vector<uint32_t> which(kAnswers);
  for (size_t k = 0; k < kAnswers; ++k) {
    which[k] = static_cast<uint32_t>(rng.below(kEntries));
    make_answer(which[k], answers[k]);
  }
  size_t i = 0;
  Timestamp now = kStart;
  for (auto _ : state) {
    cache->insert(client_addr(which[i]), answer_addr(which[i]), answers[i].chain, kTtl, ++now);
    i = (i + 1) & (kAnswers - 1);
  }
  state.SetItemsProcessed(state.iterations());
  // 2 in client scope: the entry and its global shadow are both refreshed.
  state.counters["refreshes_per_insert"] =
      static_cast<double>(cache->stats().refreshes) /
      static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_DnsCacheInsertRefresh);

// Lookups (hits) by 2 worker threads at once while a third thread inserts
// answers (new addresses, so the cache fills and then evicts, taking shard
// locks exclusively). items_per_second is the lookups/s of both readers
// together (wall clock); writer_inserts_per_s is what the writer got done
// meanwhile. writer:0 has no writer (the readers alone), writer:1 inserts as
// fast as it can (worst case), writer:2 paces itself to 10,000 inserts/s (a
// very busy gateway's answer rate). On a 2-vCPU machine, writer:1 runs 3 busy
// threads on 2 cores, so the readers lose CPU time as well as lock time.
struct Shared {
  std::unique_ptr<DnsCache> cache;
  std::vector<Probe> probes[2];
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> inserted{0};
  std::thread writer;
};
Shared* g_shared = nullptr;

const uint32_t kSharedEntries = bounded(100'000);
constexpr uint32_t kPacedRate = 10'000;  // inserts/s for writer:2

void writer_loop(Shared& s, bool paced) {
  // Names of their own (offset), so the per-name cap never touches the
  // readers' entries; TTL 60 s, so evictions take the writer's entries (the
  // readers' expire last).
  std::vector<Answer> answers(1 << 12);
  for (size_t k = 0; k < answers.size(); ++k)
    make_answer(static_cast<uint32_t>(k) + 50'000'000, answers[k]);
  uint32_t n = kSharedEntries;
  const Timestamp now = kStart;
  constexpr uint32_t kBurst = 100;  // paced: 100 inserts, then wait for the next 10 ms slot
  auto next = std::chrono::steady_clock::now();
  while (!s.stop.load(std::memory_order_relaxed)) {
    for (uint32_t b = 0; b < kBurst; ++b) {
      const Answer& a = answers[n & (answers.size() - 1)];
      s.cache->insert(client_addr(n), answer_addr(n), a.chain, 60, now);
      n = n + 1 >= (1u << 22) ? kSharedEntries : n + 1;
    }
    s.inserted.fetch_add(kBurst, std::memory_order_relaxed);
    if (paced) {
      next += std::chrono::microseconds(1'000'000ull * kBurst / kPacedRate);
      std::this_thread::sleep_until(next);
    }
  }
}

void BM_DnsCacheLookupWithWriter(benchmark::State& state) {
  const int64_t writer = state.range(0);
  uint64_t inserted_before = 0;
  std::chrono::steady_clock::time_point t0;
  if (state.thread_index() == 0) {
    g_shared = new Shared;
    g_shared->cache = filled_cache(kSharedEntries, kSharedEntries * 4);
    g_shared->probes[0] = hit_probes(kSharedEntries, 11);
    g_shared->probes[1] = hit_probes(kSharedEntries, 12);
    if (writer != 0) g_shared->writer = std::thread(writer_loop, std::ref(*g_shared), writer == 2);
    inserted_before = g_shared->inserted.load();
    t0 = std::chrono::steady_clock::now();
  }
  // The loop's start is a barrier: every thread sees g_shared set up.
  size_t i = 0, open = 0;
  const Timestamp now = kStart + tripline::seconds(1);
  for (auto _ : state) {
    const Probe& p = g_shared->probes[state.thread_index() & 1][i];
    auto r = g_shared->cache->lookup(p.client, p.addr, now);
    open += r.status == tripline::DnsLookupStatus::Open;
    benchmark::DoNotOptimize(r);
    i = (i + 1) & (kProbes - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["open_ratio"] = benchmark::Counter(  // must be 1
      static_cast<double>(open) / static_cast<double>(std::max<int64_t>(1, state.iterations())),
      benchmark::Counter::kAvgThreads);
  // The loop's end is a barrier too: no reader touches g_shared after it.
  if (state.thread_index() == 0) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    g_shared->stop.store(true);
    if (g_shared->writer.joinable()) g_shared->writer.join();
    state.counters["writer_inserts_per_s"] =
        static_cast<double>(g_shared->inserted.load() - inserted_before) / secs;
    state.SetLabel(writer == 0 ? "no writer" : writer == 1 ? "writer flat out" : "writer 10k/s");
    delete g_shared;
    g_shared = nullptr;
  }
}
BENCHMARK(BM_DnsCacheLookupWithWriter)
    ->ArgName("writer")
    ->DenseRange(0, 2)
    ->Threads(2)
    ->UseRealTime();

// Memory: resident set growth over inserting 1,000,000 answers' addresses
// (TRIPLINE_BENCH_ITEMS, which the CI smoke test lowers)
// (1,000 clients, two addresses per name, a CNAME in one answer in four) into
// a cache bounded high enough to keep them all. In client scope each address
// also has a global shadow entry, so the cache holds ~2 entries per address:
// bytes_per_entry divides by the cache's own entry count, bytes_per_address
// by the addresses inserted. The name index (per-name cap) is included.
void BM_DnsCacheMemory(benchmark::State& state) {
  const uint32_t kAddresses = items();
  const bool client_scope = state.range(0) != 0;
  const auto per_name = static_cast<uint32_t>(state.range(1));
  double per_entry = 0, per_address = 0, rss_per_entry = 0, entries = 0;
  uint64_t evicted = 0;
  for (auto _ : state) {
    uint64_t rss_before = tripline::gen::resident_bytes();
    uint64_t heap_before = tripline::gen::heap_bytes_in_use();
    DnsCacheConfig cfg;
    cfg.scope_client = client_scope;
    // Room for every entry (client scope: an address and its shadow) plus an
    // eighth, as the entries do not spread perfectly evenly over the shards:
    // nothing may be evicted.
    const uint32_t needed = (client_scope ? 2 : 1) * kAddresses;
    cfg.max_entries = needed + needed / 8;
    auto cache = std::make_unique<DnsCache>(cfg);
    for (uint32_t n = 0; n < kAddresses; ++n) insert_answer(*cache, n, kStart, per_name);
    uint64_t heap_after = tripline::gen::heap_bytes_in_use();
    uint64_t rss_after = tripline::gen::resident_bytes();
    entries = static_cast<double>(cache->size());
    double grown = heap_after > heap_before ? static_cast<double>(heap_after - heap_before) : 0;
    per_entry = grown / entries;
    per_address = grown / kAddresses;
    rss_per_entry =
        rss_after > rss_before ? static_cast<double>(rss_after - rss_before) / entries : 0;
    evicted = cache->stats().evictions;
    state.PauseTiming();
    cache.reset();
    state.ResumeTiming();
  }
  if (evicted != 0) state.SkipWithError("the cache evicted entries: the figure would be wrong");
  state.SetItemsProcessed(state.iterations() * kAddresses);  // inserts/s while filling
  state.counters["addresses"] = kAddresses;
  state.counters["entries"] = entries;
  state.counters["bytes_per_entry"] = per_entry;
  state.counters["bytes_per_address"] = per_address;
  state.counters["rss_bytes_per_entry"] = rss_per_entry;
}
BENCHMARK(BM_DnsCacheMemory)
    ->ArgNames({"client_scope", "addrs_per_name"})
    ->ArgsProduct({{1, 0}, {1, 2, 4}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
