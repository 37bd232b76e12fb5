// End-to-end replay over one pcap, next to a bare libpcap read loop over the
// same file in the same run: BM_PcapReadBaseline (pcap_next_ex only) and
// BM_ReplayPipeline (tripline::replay_pcap with the default configuration's
// pipeline). The pipeline's rate as a ratio of the baseline's is printed as
// the `vs_baseline` counter and on a final line.
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
#include <vector>

#include "bench_env.h"
#include "config.h"
#include "pipeline.h"
#include "replay.h"

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
// name, one per repetition, so the pipeline benchmark can report itself
// against the baseline.
std::map<std::string, std::vector<double>>& rates() {
  static std::map<std::string, std::vector<double>> r;
  return r;
}
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
// The median over the baseline's repetitions so far (0 before it ran).
double baseline_rate() {
  auto it = rates().find("BM_PcapReadBaseline/real_time");
  return it == rates().end() ? 0 : median(it->second);
}

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

// What a consumer of libpcap cannot avoid: open, read every record, close.
// Opened with nanosecond precision, as the replay opens it.
void BM_PcapReadBaseline(benchmark::State& state) {
  const std::string& path = pcap_path();
  uint64_t packets = 0, bytes = 0;
  for (auto _ : state) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    std::unique_ptr<pcap_t, PcapCloser> p(
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
    if (!p) {
      state.SkipWithError(errbuf);
      return;
    }
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    uint64_t sum = 0;
    while (pcap_next_ex(p.get(), &hdr, &data) == 1) {
      ++packets;
      bytes += hdr->caplen;
      sum += data[0];
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_PcapReadBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole replay: open, decode, flow table, the pipeline's stages, verdicts,
// flow ends at the end of the file. No event log or verdict output.
void BM_ReplayPipeline(benchmark::State& state) {
  auto cfg = std::make_shared<const tripline::Config>(tripline::Config::defaults());
  tripline::Pipeline pipeline(cfg, tripline::Pipeline::Mode::Replay);
  tripline::ReplayOptions opts;
  opts.pcap_path = pcap_path();
  uint64_t packets = 0;
  double seconds = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    tripline::ReplayResult r;
    try {
      r = tripline::replay_pcap(cfg, opts, pipeline.stage_factory());
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    packets += r.frames;
    benchmark::DoNotOptimize(r.counters);
  }
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  if (double base = baseline_rate(); base > 0 && seconds > 0) {
    state.counters["vs_baseline"] = (static_cast<double>(packets) / seconds) / base;
  }
}
BENCHMARK(BM_ReplayPipeline)->Unit(benchmark::kMillisecond)->UseRealTime();

// Console output as usual, plus each run's rate remembered for the ratio.
class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates()[run.benchmark_name()].push_back(it->second.value);
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
  for (const auto& [name, runs] : rates()) {
    if (name.rfind("BM_ReplayPipeline", 0) != 0 || base <= 0) continue;
    double rate = median(runs);
    std::printf(
        "%s: %.0f packets/s = %.3f x BM_PcapReadBaseline (%.0f packets/s), same run, "
        "medians of %zu and %zu runs\n",
        name.c_str(), rate, rate / base, base, runs.size(),
        rates()["BM_PcapReadBaseline/real_time"].size());
  }
  benchmark::Shutdown();
  return 0;
}
