// End-to-end replay over one pcap, next to a bare libpcap read loop over the
// same file in the same run: BM_PcapReadBaseline (pcap_next_ex only;
// BM_PcapReadBaselineBuffered reads through the replay's bigger buffer),
// BM_ReplayPipeline (tripline::replay_pcap with the default configuration's
// pipeline), BM_ReplayPipelineEgress (the same with the DNS observer
// trusting the generator's resolver and DNS-gated egress enforced), and with
// Lua triggers (a policy on_flow; every packet through on_packet) and with
// trigger-started capture. Each
// pipeline's rate as a ratio of the baseline's is printed as the
// `vs_baseline` counter and on a final line.
//
// The file: TRIPLINE_BENCH_PCAP, or a generated one (TRIPLINE_BENCH_PACKETS,
// default 1,000,000; cached in TRIPLINE_BENCH_DIR or TMPDIR or /tmp).
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_env.h"
#include "config.h"
#include "counters.h"
#include "pipeline.h"
#include "replay.h"
#include "trigger_scripts.h"

namespace {

// Made (or found) on first use, outside any timed region.
const std::string& pcap_path() {
  static const std::string path = [] {
    std::string p = tripline::gen::bench_pcap_path();
    std::fprintf(stderr, "replay input: %s\n", p.c_str());
    return p;
  }();
  return path;
}

// Rates (packets per wall-clock second) of the runs finished so far, by run
// name, so the pipeline benchmarks can report themselves against the
// baseline: one per repetition as they are reported, or, with
// --benchmark_report_aggregates_only=true (where only aggregates reach the
// reporter), Google Benchmark's own median over the repetitions.
struct Rates {
  std::vector<double> runs;  // one per repetition
  double median_aggregate = 0;
  int64_t aggregate_of = 0;  // repetitions behind median_aggregate
};
std::map<std::string, Rates>& rates() {
  static std::map<std::string, Rates> r;
  return r;
}
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
// The median over a run's repetitions, and how many there were (0: not run).
std::pair<double, int64_t> median_rate(const Rates& r) {
  if (!r.runs.empty()) return {median(r.runs), static_cast<int64_t>(r.runs.size())};
  return {r.median_aggregate, r.aggregate_of};
}
constexpr const char* kBaselineName = "BM_PcapReadBaseline/real_time";
constexpr const char* kBufferedName = "BM_PcapReadBaselineBuffered/real_time";
// The baseline's median rate so far (0 before it ran).
double baseline_rate() {
  auto it = rates().find(kBaselineName);
  return it == rates().end() ? 0 : median_rate(it->second).first;
}

// What a consumer of libpcap cannot avoid: open, read every record, close.
// Opened with nanosecond precision, as the replay opens it.
void read_all(benchmark::State& state, bool buffered) {
  const std::string& path = pcap_path();
  uint64_t packets = 0, bytes = 0;
  for (auto _ : state) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    tripline::BufferedPcap p;
    if (buffered) {
      p = tripline::open_pcap_buffered(path, errbuf);
    } else {
      p.pcap.reset(pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                           errbuf));
    }
    if (!p.pcap) {
      state.SkipWithError(errbuf);
      return;
    }
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    uint64_t sum = 0;
    while (pcap_next_ex(p.pcap.get(), &hdr, &data) == 1) {
      ++packets;
      bytes += hdr->caplen;
      sum += data[0];
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
// The bare loop as anyone writes it: pcap_open_offline (libpcap's stdio
// buffer, st_blksize). The ratios are against this one.
void BM_PcapReadBaseline(benchmark::State& state) { read_all(state, false); }
BENCHMARK(BM_PcapReadBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();
// The same loop reading the way the replay does (open_pcap_buffered: a 1 MiB
// stdio buffer). The difference between the two is what the replay gains by
// reading the file in bigger pieces; the pipeline's rate against this one is
// its own per-packet work.
void BM_PcapReadBaselineBuffered(benchmark::State& state) { read_all(state, true); }
BENCHMARK(BM_PcapReadBaselineBuffered)->Unit(benchmark::kMillisecond)->UseRealTime();

// One whole replay per iteration: open, decode, flow table, the pipeline's
// stages, verdicts, flow ends at the end of the file. No event log or verdict
// output. Each pass gets a fresh pipeline (an empty DNS cache), built and
// destroyed outside the timing, so every pass does the same work, as
// `tripline replay` does on that file.
void replay(benchmark::State& state, const tripline::Config& config) {
  auto cfg = std::make_shared<const tripline::Config>(config);
  std::unique_ptr<tripline::Pipeline> pipeline;
  tripline::ReplayOptions opts;
  opts.pcap_path = pcap_path();
  uint64_t packets = 0;
  double seconds = 0;
  tripline::CounterSnapshot last;
  for (auto _ : state) {
    state.PauseTiming();
    pipeline.reset();
    try {
      pipeline = std::make_unique<tripline::Pipeline>(cfg, tripline::Pipeline::Mode::Replay);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    tripline::ReplayResult r;
    try {
      r = tripline::replay_pcap(cfg, opts, pipeline->stage_factory());
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    packets += r.frames;
    benchmark::DoNotOptimize(r.counters);
    last = r.counters;
  }
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  if (double base = baseline_rate(); base > 0 && seconds > 0) {
    state.counters["vs_baseline"] = (static_cast<double>(packets) / seconds) / base;
  }
  if (!config.lua.script.empty()) {
    state.counters["lua_calls_per_pkt"] = static_cast<double>(last.lua_calls) /
                                          static_cast<double>(std::max<uint64_t>(1, last.packets));
    state.counters["lua_errors"] = static_cast<double>(last.lua_errors);
  }
  if (!config.capture.dir.empty()) {
    state.counters["captured"] = static_cast<double>(last.capture_packets);
    state.counters["capture_dropped"] = static_cast<double>(last.capture_dropped);
    state.counters["sessions"] = static_cast<double>(last.capture_sessions_started);
    state.counters["refused"] = static_cast<double>(last.capture_sessions_refused);
  }
  if (config.egress.mode != tripline::EgressMode::Off) {
    // Per pass over the file: what the DNS observer and egress policy did.
    state.counters["dns_trusted"] = static_cast<double>(last.dns_answers_trusted);
    state.counters["egress_allowed"] = static_cast<double>(last.egress_allowed);
    state.counters["egress_blocked"] = static_cast<double>(last.egress_blocked);
  }
}

// The default configuration: no resolvers, egress off (decode, flows, verdicts).
void BM_ReplayPipeline(benchmark::State& state) { replay(state, tripline::Config::defaults()); }
BENCHMARK(BM_ReplayPipeline)->Unit(benchmark::kMillisecond)->UseRealTime();

// DNS-gated egress on: answers from the generator's resolver (10.0.0.53,
// fd00::53) are parsed, matched to their queries and inserted into the DNS
// cache; every new outbound flow is looked up and blocked unless resolved.
// The generator's literal-address flows are the ones blocked.
tripline::Config egress_config() {
  return tripline::Config::load_string(R"(
[dns]
resolvers = ["10.0.0.53", "fd00::53"]
[egress]
mode = "enforce"
)",
                                       "<replay_bench egress>");
}
void BM_ReplayPipelineEgress(benchmark::State& state) { replay(state, egress_config()); }
BENCHMARK(BM_ReplayPipelineEgress)->Unit(benchmark::kMillisecond)->UseRealTime();

// Capture on: 1 flow in 64 is recorded for up to 2 s or 200 packets (flow
// scope, the packets before the trigger included) to pcap files by the
// capture writer's thread; beyond 16 recordings at once, requests are refused.
constexpr const char* kCaptureScript = R"(
function on_flow(f)
  if f.flow_id % 64 == 0 then
    tripline.capture{ scope = "flow", seconds = 2, packets = 200, label = "bench" }
  end
end
)";

tripline::Config trigger_config(const char* name, const char* code, bool capture) {
  tripline::Config c = tripline::Config::defaults();
  c.lua.script = tripline::gen::bench_scratch_file(name, code);
  if (capture) c.capture.dir = tripline::gen::bench_scratch_dir() + "/capture";
  return c;
}
void BM_ReplayPipelineTriggers(benchmark::State& state) {
  replay(state, trigger_config("policy.lua", tripline::bench::kPolicyScript, false));
}
BENCHMARK(BM_ReplayPipelineTriggers)->Unit(benchmark::kMillisecond)->UseRealTime();
void BM_ReplayPipelineTriggersWatchAll(benchmark::State& state) {
  replay(state, trigger_config("watch_all.lua", tripline::bench::kWatchAllScript, false));
}
BENCHMARK(BM_ReplayPipelineTriggersWatchAll)->Unit(benchmark::kMillisecond)->UseRealTime();
void BM_ReplayPipelineCapture(benchmark::State& state) {
  replay(state, trigger_config("capture.lua", kCaptureScript, true));
}
BENCHMARK(BM_ReplayPipelineCapture)->Unit(benchmark::kMillisecond)->UseRealTime();

// Console output as usual, plus each run's rate remembered for the ratio.
class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      Rates& r = rates()[run.run_name.str()];
      if (run.run_type == Run::RT_Iteration) {
        r.runs.push_back(it->second.value);
      } else if (run.aggregate_name == "median") {
        r.median_aggregate = it->second.value;
        r.aggregate_of = run.repetitions;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  double base = baseline_rate();
  const int64_t base_runs = base > 0 ? median_rate(rates()[kBaselineName]).second : 0;
  const auto [buffered, buffered_runs] = median_rate(rates()[kBufferedName]);
  for (const auto& [name, r] : rates()) {
    if (name.rfind("BM_ReplayPipeline", 0) != 0 || base <= 0) continue;
    auto [rate, runs] = median_rate(r);
    std::printf(
        "%s: %.0f packets/s = %.3f x BM_PcapReadBaseline (%.0f packets/s), same run, "
        "medians of %lld and %lld runs\n",
        name.c_str(), rate, rate / base, base, static_cast<long long>(runs),
        static_cast<long long>(base_runs));
    // The replay reads through a bigger buffer than the bare loop: against
    // the same read, and in ns a packet beyond it (its own work).
    if (buffered > 0 && rate > 0) {
      std::printf(
          "  = %.3f x BM_PcapReadBaselineBuffered (%.0f packets/s, median of %lld): "
          "%.0f ns a packet beyond reading it\n",
          rate / buffered, buffered, static_cast<long long>(buffered_runs),
          1e9 / rate - 1e9 / buffered);
    }
  }
  benchmark::Shutdown();
  return 0;
}
