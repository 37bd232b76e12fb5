// FlowTable::track (engine/flow/flow_table.h): a packet of a known flow (hit, UDP
// and established TCP, over small and large tables), a packet that starts a
// new flow (miss/insert), a new flow in a full table (evicts the stalest), and
// the memory a tracked flow costs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench_rng.h"
#include "flow_table.h"
#include "resident_memory.h"

namespace {

using tripline::Decoded;
using tripline::FlowConfig;
using tripline::FlowTable;
using tripline::IpAddr;
using tripline::Timestamp;
using tripline::gen::Rng;

constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
constexpr uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08;
constexpr Timestamp kStart = 1'767'225'600LL * tripline::kNsPerSec;

class CountingObserver final : public tripline::FlowObserver {
 public:
  void on_flow_end(const tripline::Flow&, tripline::FlowEndReason, Timestamp) override { ++ended; }
  uint64_t ended = 0;
};

// Client n: 10.x.y.z (inside); server n: 93.184.x.y port 443.
IpAddr client_addr(uint32_t n) {
  uint8_t b[4] = {10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                  static_cast<uint8_t>(n)};
  return IpAddr::v4(b);
}
IpAddr server_addr(uint32_t n) {
  uint8_t b[4] = {93, 184, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  return IpAddr::v4(b);
}

Decoded packet(uint8_t proto, const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
               uint8_t flags, uint32_t len) {
  Decoded d;
  d.src = src;
  d.dst = dst;
  d.ip_version = 4;
  d.proto = proto;
  d.ttl = 64;
  d.sport = sport;
  d.dport = dport;
  d.has_ports = true;
  d.tcp_flags = flags;
  d.ip_len = len;
  return d;
}

// Flow n, direction dir (0: client to server).
Decoded flow_packet(uint8_t proto, uint32_t n, int dir, uint8_t flags, uint32_t len) {
  IpAddr c = client_addr(n), s = server_addr(n);
  uint16_t cport = static_cast<uint16_t>(32768 + n % 28000);
  return dir == 0 ? packet(proto, c, cport, s, 443, flags, len)
                  : packet(proto, s, 443, c, cport, flags, len);
}

FlowConfig config(uint32_t capacity) {
  FlowConfig cfg;
  cfg.capacity = capacity;
  return cfg;
}

// Packets of `flows` known flows, in random order and direction.
void hit(benchmark::State& state, uint8_t proto) {
  const uint32_t flows = static_cast<uint32_t>(state.range(0));
  CountingObserver obs;
  auto table = std::make_unique<FlowTable>(config(flows * 2), &obs);
  Timestamp now = kStart;
  for (uint32_t n = 0; n < flows; ++n) {
    if (proto == kProtoTcp) {
      table->track(flow_packet(proto, n, 0, kSyn, 60), ++now);
      table->track(flow_packet(proto, n, 1, kSyn | kAck, 60), ++now);
      table->track(flow_packet(proto, n, 0, kAck, 52), ++now);
    } else {
      table->track(flow_packet(proto, n, 0, 0, 100), ++now);
    }
  }
  constexpr size_t kPackets = 1 << 16;
  Rng rng(7);
  std::vector<Decoded> pkts;
  pkts.reserve(kPackets);
  for (size_t i = 0; i < kPackets; ++i) {
    int dir = static_cast<int>(rng.below(2));
    uint8_t flags = proto == kProtoTcp ? (kAck | (dir ? kPsh : 0)) : 0;
    pkts.push_back(
        flow_packet(proto, static_cast<uint32_t>(rng.below(flows)), dir, flags, dir ? 1500 : 52));
  }
  size_t i = 0;
  uint64_t created = 0;
  for (auto _ : state) {
    auto r = table->track(pkts[i], ++now);
    benchmark::DoNotOptimize(r.flow);
    created += r.created;
    i = (i + 1) & (kPackets - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["flows"] = static_cast<double>(table->size());
  state.counters["created"] = static_cast<double>(created);  // should stay 0
}

void BM_FlowTableHitUdp(benchmark::State& state) { hit(state, kProtoUdp); }
void BM_FlowTableHitTcp(benchmark::State& state) { hit(state, kProtoTcp); }
BENCHMARK(BM_FlowTableHitUdp)->ArgName("flows")->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_FlowTableHitTcp)->ArgName("flows")->Arg(1'000)->Arg(100'000);

// A packet of a flow the table has not seen: a lookup miss and an insert. The
// table is emptied (untimed) before it would fill, so nothing is evicted.
void BM_FlowTableMissInsert(benchmark::State& state) {
  constexpr uint32_t kCapacity = 1 << 18;
  CountingObserver obs;
  auto table = std::make_unique<FlowTable>(config(kCapacity), &obs);
  Timestamp now = kStart;
  Decoded d = flow_packet(kProtoUdp, 0, 0, 0, 100);
  uint32_t n = 0;
  uint64_t created = 0;
  for (auto _ : state) {
    ++n;
    d.src.bytes[1] = static_cast<uint8_t>(n >> 16);
    d.src.bytes[2] = static_cast<uint8_t>(n >> 8);
    d.src.bytes[3] = static_cast<uint8_t>(n);
    d.sport = static_cast<uint16_t>(1024 + (n >> 24));
    auto r = table->track(d, ++now);
    created += r.created;
    if (table->size() + 1 >= kCapacity) {
      state.PauseTiming();
      table->flush(now);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["created_ratio"] =
      static_cast<double>(created) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_FlowTableMissInsert);

// A new flow in a full table: insert plus eviction of the stalest flow (and
// its end report).
void BM_FlowTableEvict(benchmark::State& state) {
  const uint32_t capacity = static_cast<uint32_t>(state.range(0));
  CountingObserver obs;
  auto table = std::make_unique<FlowTable>(config(capacity), &obs);
  Timestamp now = kStart;
  Decoded d = flow_packet(kProtoUdp, 0, 0, 0, 100);
  uint32_t n = 0;
  auto next_flow = [&] {
    ++n;
    d.src.bytes[1] = static_cast<uint8_t>(n >> 16);
    d.src.bytes[2] = static_cast<uint8_t>(n >> 8);
    d.src.bytes[3] = static_cast<uint8_t>(n);
    d.sport = static_cast<uint16_t>(1024 + (n >> 24));
    return table->track(d, ++now);
  };
  for (uint32_t k = 0; k < capacity; ++k) next_flow();
  uint64_t evicted_before = table->stats().evicted;
  for (auto _ : state) {
    auto r = next_flow();
    benchmark::DoNotOptimize(r.flow);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["evicted_ratio"] = static_cast<double>(table->stats().evicted - evicted_before) /
                                    static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_FlowTableEvict)->ArgName("capacity")->Arg(4'096)->Arg(65'536);

// Memory per tracked flow: the resident set growth over building a table of
// `capacity` flows and filling it with UDP flows, divided by the flows it
// then holds. The table preallocates its slots, free list and hash index at
// construction, so this is also what an empty table of that capacity will
// cost once used. slot_bytes is sizeof(Flow) alone; the rest is the index
// (key + slot number per entry, with the hash map's headroom) and free list.
void BM_FlowTableMemory(benchmark::State& state) {
  const uint32_t capacity = static_cast<uint32_t>(state.range(0));
  double per_flow = 0, accounted = 0, flows = 0;
  for (auto _ : state) {
    uint64_t before = tripline::gen::resident_bytes();
    CountingObserver obs;
    auto table = std::make_unique<FlowTable>(config(capacity), &obs);
    Timestamp now = kStart;
    Decoded d = flow_packet(kProtoUdp, 0, 0, 0, 100);
    for (uint32_t n = 1; n <= capacity; ++n) {
      d.src.bytes[1] = static_cast<uint8_t>(n >> 16);
      d.src.bytes[2] = static_cast<uint8_t>(n >> 8);
      d.src.bytes[3] = static_cast<uint8_t>(n);
      d.sport = static_cast<uint16_t>(1024 + (n >> 24));
      table->track(d, ++now);
    }
    uint64_t after = tripline::gen::resident_bytes();
    flows = static_cast<double>(table->size());
    per_flow = after > before ? static_cast<double>(after - before) / flows : 0;
    accounted = static_cast<double>(table->memory_bytes()) / flows;
    state.PauseTiming();
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * capacity);
  state.counters["flows"] = flows;
  // RSS growth: only meaningful when the table is larger than memory the
  // allocator kept from earlier benchmarks (the 1M case); the accounted figure
  // (from the containers' capacities) is exact at any size.
  state.counters["bytes_per_flow"] = per_flow;
  state.counters["accounted_bytes_per_flow"] = accounted;
  state.counters["slot_bytes"] = static_cast<double>(FlowTable::slot_bytes());
}
BENCHMARK(BM_FlowTableMemory)
    ->ArgName("capacity")
    ->Arg(65'536)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
