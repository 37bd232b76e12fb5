// What Lua triggers cost the worker, measured through Worker::process (decode,
// flow table, the trigger stage, verdict), each next to the same work without
// a script in the same run:
//   BM_NewFlow/{no_lua,on_flow}: a new TCP flow per packet; the difference is
//     what one on_flow call (trigger_scripts.h: the policy script) adds.
//   BM_Packet/{no_lua,on_packet}: a data packet of an established flow that the
//     script watches (the watch-all script); the difference is one on_packet call.
//   BM_Packet/unwatched: the script defines on_flow and on_packet but watches
//     nothing; the `lua_calls_per_packet` counter must be 0.
//   BM_NewFlowBlocked/{no_lua,on_flow}: as BM_NewFlow with DNS-gated egress in
//     enforce mode: every SYN goes to an address no resolver gave, the policy
//     blocks it and on_flow still runs (it has the last word).
//   BM_DnsAnswer/{no_lua,on_dns}: a query and its trusted answer per item (the
//     answer opens one address); the difference is one call of a trivial
//     on_dns.
//   BM_SharedIncr/{same_key,own_key}/threads:2: two workers (threads, one Lua
//     state each, one shared store) call tripline.incr at once, 100 times per
//     on_packet call; items are incr calls, so the time per item is the cost
//     of one call with the other worker calling too (the on_packet call around
//     them included, ~1/100 of it). same_key: both on one key (one shard lock);
//     own_key: a key each.
// The final lines print the differences (medians over repetitions).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench_env.h"
#include "config.h"
#include "dns_wire.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "trigger_scripts.h"
#include "worker.h"

namespace {

using tripline::Config;
using tripline::IpAddr;
using tripline::Pipeline;
using tripline::Worker;

// Defines both hooks but watches nothing.
constexpr const char* kUnwatchedScript = R"(
function on_flow(f) if f.dest_port == 1 then tripline.watch() end end
function on_packet(p) return "drop" end
)";

struct Rig {
  std::shared_ptr<const Config> cfg;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Worker> worker;
};

constexpr const char* kTrivialOnDns = "function on_dns(d) end\n";

Rig make_rig(const char* script_name, const char* code, bool egress = false) {
  Config c = Config::defaults();
  if (code) c.lua.script = tripline::gen::bench_scratch_file(script_name, code);
  if (egress) {  // DNS-gated egress, enforced: answers from 10.0.0.53 open addresses
    c.dns.resolvers.push_back({*IpAddr::parse("10.0.0.53"), 53});
    c.egress.mode = tripline::EgressMode::Enforce;
  }
  Rig r;
  r.cfg = std::make_shared<const Config>(c);
  r.pipeline = std::make_unique<Pipeline>(r.cfg, Pipeline::Mode::Replay);
  r.worker = std::make_unique<Worker>(r.cfg, 0, nullptr);
  r.pipeline->stage_factory()(*r.worker);
  return r;
}

const IpAddr kClient = *IpAddr::parse("10.0.0.2");
const IpAddr kServer = *IpAddr::parse("198.51.100.7");

// SYNs of distinct flows (source address x port), prebuilt outside the timing.
std::vector<tripline::craft::Bytes> syn_packets(size_t n) {
  std::vector<tripline::craft::Bytes> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    IpAddr src = kClient;
    src.bytes[2] = static_cast<uint8_t>(i >> 16);
    src.bytes[3] = static_cast<uint8_t>(2 + (i >> 14) % 250);
    out.push_back(tripline::craft::tcp(src, static_cast<uint16_t>(1024 + i % 16384), kServer,
                                       static_cast<uint16_t>(443 + i % 3), 0x02, 1, 0, {}));
  }
  return out;
}

void new_flow(benchmark::State& state, const char* code, bool egress = false) {
  Rig rig = make_rig("on_flow.lua", code, egress);
  auto packets = syn_packets(65536);  // the flow table's capacity: no evictions in one pass
  tripline::Timestamp now = 1767225600 * tripline::kNsPerSec;
  size_t i = 0;
  for (auto _ : state) {
    if (i == packets.size()) {  // a fresh table for the next pass, outside the timing
      state.PauseTiming();
      rig.worker.reset();  // before the pipeline it was built from
      rig = make_rig("on_flow.lua", code, egress);
      i = 0;
      state.ResumeTiming();
    }
    now += 1000;
    benchmark::DoNotOptimize(rig.worker->process(tripline::LinkType::Raw, packets[i++], now));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["lua_calls_per_flow"] =
      static_cast<double>(rig.worker->counters().lua_calls.get()) /
      static_cast<double>(std::max<uint64_t>(1, rig.worker->counters().flows_created.get()));
}
void BM_NewFlow_no_lua(benchmark::State& state) { new_flow(state, nullptr); }
void BM_NewFlow_on_flow(benchmark::State& state) {
  new_flow(state, tripline::bench::kPolicyScript);
}
BENCHMARK(BM_NewFlow_no_lua);
BENCHMARK(BM_NewFlow_on_flow);
void BM_NewFlowBlocked_no_lua(benchmark::State& state) { new_flow(state, nullptr, true); }
void BM_NewFlowBlocked_on_flow(benchmark::State& state) {
  new_flow(state, tripline::bench::kPolicyScript, true);
}
BENCHMARK(BM_NewFlowBlocked_no_lua);
BENCHMARK(BM_NewFlowBlocked_on_flow);

// A query from the client and the resolver's answer (one A record), for
// distinct ports and ids, prebuilt outside the timing.
void dns_answer(benchmark::State& state, const char* code) {
  Rig rig = make_rig("on_dns.lua", code, true);
  const IpAddr resolver = *IpAddr::parse("10.0.0.53");
  const IpAddr addr[] = {*IpAddr::parse("203.0.113.10")};
  std::vector<tripline::craft::Bytes> queries, answers;
  constexpr size_t kPairs = 4096;  // below [dns] max_outstanding: no purge in the loop
  for (size_t i = 0; i < kPairs; ++i) {
    auto port = static_cast<uint16_t>(20000 + i);
    auto id = static_cast<uint16_t>(i * 7 + 1);
    queries.push_back(tripline::craft::udp(
        kClient, port, resolver, 53, tripline::gen::dns_query(id, "www.example.com", 1, false)));
    tripline::gen::DnsResponseSpec spec;
    spec.id = id;
    spec.qname = "www.example.com";
    spec.addrs = addr;
    answers.push_back(
        tripline::craft::udp(resolver, 53, kClient, port, tripline::gen::dns_response(spec)));
  }
  tripline::Timestamp now = 1767225600 * tripline::kNsPerSec;
  size_t i = 0;
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(rig.worker->process(tripline::LinkType::Raw, queries[i], now));
    benchmark::DoNotOptimize(rig.worker->process(tripline::LinkType::Raw, answers[i], now));
    i = (i + 1) % kPairs;
  }
  const auto& c = rig.worker->counters();
  state.SetItemsProcessed(state.iterations());
  state.counters["trusted_per_answer"] =
      static_cast<double>(c.dns_answers_trusted.get()) /
      static_cast<double>(std::max<uint64_t>(1, c.dns_answers.get()));
  state.counters["lua_calls_per_answer"] =
      static_cast<double>(c.lua_calls.get()) /
      static_cast<double>(std::max<uint64_t>(1, c.dns_answers.get()));
}
void BM_DnsAnswer_no_lua(benchmark::State& state) { dns_answer(state, nullptr); }
void BM_DnsAnswer_on_dns(benchmark::State& state) { dns_answer(state, kTrivialOnDns); }
BENCHMARK(BM_DnsAnswer_no_lua);
BENCHMARK(BM_DnsAnswer_on_dns);

// 1400-byte data packets of one established flow, alternating directions.
void packet(benchmark::State& state, const char* code) {
  Rig rig = make_rig("on_packet.lua", code);
  std::vector<uint8_t> payload(1400, 'x');
  auto syn = tripline::craft::tcp(kClient, 40000, kServer, 80, 0x02, 1, 0, {});
  auto synack = tripline::craft::tcp(kServer, 80, kClient, 40000, 0x12, 1, 2, {});
  auto up = tripline::craft::tcp(kClient, 40000, kServer, 80, 0x18, 2, 2, payload);
  auto down = tripline::craft::tcp(kServer, 80, kClient, 40000, 0x18, 2, 2, payload);
  tripline::Timestamp now = 1767225600 * tripline::kNsPerSec;
  rig.worker->process(tripline::LinkType::Raw, syn, now);
  rig.worker->process(tripline::LinkType::Raw, synack, now);
  uint64_t calls0 = rig.worker->counters().lua_calls.get();
  bool flip = false;
  for (auto _ : state) {
    now += 1000;
    flip = !flip;
    benchmark::DoNotOptimize(rig.worker->process(tripline::LinkType::Raw, flip ? up : down, now));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["lua_calls_per_packet"] =
      static_cast<double>(rig.worker->counters().lua_calls.get() - calls0) /
      static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
void BM_Packet_no_lua(benchmark::State& state) { packet(state, nullptr); }
void BM_Packet_on_packet(benchmark::State& state) {
  packet(state, tripline::bench::kWatchAllScript);
}
void BM_Packet_unwatched(benchmark::State& state) { packet(state, kUnwatchedScript); }
BENCHMARK(BM_Packet_no_lua);
BENCHMARK(BM_Packet_on_packet);
BENCHMARK(BM_Packet_unwatched);

// Each worker's flow: src port 40000 + thread index, so own_key can tell them apart.
constexpr const char* kIncrSameKey = R"(
function on_flow(f) tripline.watch() end
function on_packet(p)
  for i = 1, 100 do tripline.incr("bench:shared", 1, 3600) end
end
)";
constexpr const char* kIncrOwnKey = R"(
local keys = { [0] = "bench:even", [1] = "bench:odd" }
function on_flow(f) tripline.watch() end
function on_packet(p)
  local key = keys[p.src_port % 2]
  for i = 1, 100 do tripline.incr(key, 1, 3600) end
end
)";

// One pipeline (so one shared store) per script for all benchmark threads.
Rig& shared_rig(const char* name, const char* code) {
  static std::mutex mu;
  static std::map<std::string, Rig> rigs;
  std::lock_guard lock(mu);
  auto it = rigs.find(name);
  if (it == rigs.end()) {
    Config c = Config::defaults();
    c.lua.script = tripline::gen::bench_scratch_file(name, code);
    Rig r;
    r.cfg = std::make_shared<const Config>(c);
    r.pipeline = std::make_unique<Pipeline>(r.cfg, Pipeline::Mode::Replay);
    it = rigs.emplace(name, std::move(r)).first;
  }
  return it->second;
}

void shared_incr(benchmark::State& state, const char* name, const char* code) {
  std::unique_ptr<Worker> worker;
  {
    static std::mutex setup;
    std::lock_guard lock(setup);
    Rig& rig = shared_rig(name, code);
    worker =
        std::make_unique<Worker>(rig.cfg, static_cast<unsigned>(state.thread_index()), nullptr);
    rig.pipeline->stage_factory()(*worker);
  }
  auto sport = static_cast<uint16_t>(40000 + state.thread_index());
  std::vector<uint8_t> payload(64, 'x');
  auto syn = tripline::craft::tcp(kClient, sport, kServer, 80, 0x02, 1, 0, {});
  auto up = tripline::craft::tcp(kClient, sport, kServer, 80, 0x18, 2, 1, payload);
  tripline::Timestamp now = 1767225600 * tripline::kNsPerSec;
  worker->process(tripline::LinkType::Raw, syn, now);
  uint64_t calls0 = worker->counters().lua_calls.get();
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(worker->process(tripline::LinkType::Raw, up, now));
  }
  state.SetItemsProcessed(state.iterations() * 100);
  state.counters["lua_errors"] = static_cast<double>(worker->counters().lua_errors.get());
  state.counters["lua_calls_per_packet"] =
      benchmark::Counter(static_cast<double>(worker->counters().lua_calls.get() - calls0) /
                             static_cast<double>(std::max<int64_t>(1, state.iterations())),
                         benchmark::Counter::kAvgThreads);
}
void BM_SharedIncr_same_key(benchmark::State& state) {
  shared_incr(state, "incr_same.lua", kIncrSameKey);
}
void BM_SharedIncr_own_key(benchmark::State& state) {
  shared_incr(state, "incr_own.lua", kIncrOwnKey);
}
BENCHMARK(BM_SharedIncr_same_key)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_SharedIncr_own_key)->Threads(2)->UseRealTime();

// Nanoseconds per item of each run: one value per repetition, or Google
// Benchmark's median when only aggregates are reported.
std::map<std::string, std::vector<double>>& ns_per_item() {
  static std::map<std::string, std::vector<double>> m;
  return m;
}
// CPU time per item of each run (the last repetition).
std::map<std::string, double>& cpu_per_item() {
  static std::map<std::string, double> m;
  return m;
}
std::map<std::string, double>& median_aggregates() {
  static std::map<std::string, double> m;
  return m;
}

class CostReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0) continue;
      // GetAdjustedRealTime is in the run's time unit: ns, the default here.
      if (run.run_type == Run::RT_Iteration) {
        ns_per_item()[run.run_name.str()].push_back(run.GetAdjustedRealTime());
        cpu_per_item()[run.run_name.str()] = run.GetAdjustedCPUTime();
      } else if (run.aggregate_name == "median")
        median_aggregates()[run.run_name.str()] = run.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

double median_of(const std::string& name) {
  auto it = ns_per_item().find(name);
  if (it == ns_per_item().end() || it->second.empty()) {
    auto agg = median_aggregates().find(name);
    return agg == median_aggregates().end() ? -1 : agg->second;
  }
  auto v = it->second;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  CostReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto diff = [](const char* what, const char* with, const char* without) {
    double a = median_of(with), b = median_of(without);
    if (a < 0 || b < 0) return;
    std::printf("%s: %.0f ns (%s %.0f ns - %s %.0f ns), same run\n", what, a - b, with, a, without,
                b);
  };
  diff("on_flow adds per new flow", "BM_NewFlow_on_flow", "BM_NewFlow_no_lua");
  diff("on_flow adds per new flow the egress policy blocks", "BM_NewFlowBlocked_on_flow",
       "BM_NewFlowBlocked_no_lua");
  diff("a trivial on_dns adds per trusted answer", "BM_DnsAnswer_on_dns", "BM_DnsAnswer_no_lua");
  diff("on_packet adds per watched packet", "BM_Packet_on_packet", "BM_Packet_no_lua");
  diff("an unwatched flow's packet adds", "BM_Packet_unwatched", "BM_Packet_no_lua");
  // Google Benchmark's time per item with N threads is wall time over the
  // items of all threads: one worker's call takes N times that. Its CPU time
  // per item is the threads' CPU time over all their items: one call's CPU
  // time, which other processes on the machine do not inflate.
  for (const char* key : {"same_key", "own_key"}) {
    for (int threads : {1, 2}) {
      std::string name =
          std::string("BM_SharedIncr_") + key + "/real_time/threads:" + std::to_string(threads);
      double ns = median_of(name);
      if (ns < 0) continue;
      std::printf(
          "tripline.incr (%s), %d worker%s calling at once: %.0f ns per call (%.0f ns CPU)\n", key,
          threads, threads > 1 ? "s" : "", ns * threads / 100, cpu_per_item()[name] / 100);
    }
  }
  benchmark::Shutdown();
  return 0;
}
