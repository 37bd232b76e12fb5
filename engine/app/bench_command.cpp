#include "bench_command.h"

#include <malloc.h>
#include <pcap/pcap.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

#include "bench_result.h"
#include "capture_writer.h"
#include "config.h"
#include "dns_cache.h"
#include "event_writer.h"
#include "live_runtime.h"
#include "pipeline.h"
#include "replay.h"
#include "stage_profile.h"
#include "worker.h"

namespace tripline {
namespace {

constexpr char kHelp[] =
    "Measure your configuration and triggers on your traffic.\n"
    "Loads the pcap once into memory, then replays it --repeat times through the whole\n"
    "pipeline the config builds (decode, flow table, DNS observer, egress, rule chain,\n"
    "Lua triggers, capture), each pass with fresh state and the packets' timestamps as\n"
    "the clock, followed by a bare libpcap read of the same bytes from memory; then the\n"
    "pipeline reading the file and a libpcap read of the file, as replay_bench does.\n"
    "Prints packets/s, ns per packet and two ratios (median of the passes, min..max):\n"
    "vs bare read from memory, and vs libpcap read of the file (replay_bench's\n"
    "vs_baseline). Then one more pass with a profile on: ns per packet per stage, Lua\n"
    "calls per hook (p50/p99 per call), the script lines that run most (sampled every\n"
    "100 VM instructions), the flows costing most script time, and peak memory (flow\n"
    "table, DNS cache, Lua states, capture rings).\n"
    "Events go to /dev/null and captures to a temporary directory (removed after):\n"
    "bench writes nothing of yours.";

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ReplayError(path + ": cannot read: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (bytes.empty()) throw ReplayError(path + ": empty file");
  return bytes;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct BareRead {
  uint64_t frames = 0, bytes = 0;
  double seconds = 0, cpu_seconds = 0;
};

// Opens with `open` and reads every record, timing the open and the loop:
// what any libpcap reader cannot avoid.
template <typename Open>
BareRead timed_read(const std::string& name, Open open) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = thread_cpu_seconds();
  std::unique_ptr<pcap_t, PcapCloser> p(open(errbuf));
  if (!p) throw ReplayError(name + ": " + errbuf);
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  uint64_t frames = 0, sum = 0, total = 0;
  while (pcap_next_ex(p.get(), &hdr, &data) == 1) {
    ++frames;
    total += hdr->caplen;
    sum += hdr->caplen ? data[0] : 0;
  }
  p.reset();
  BareRead r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_seconds = thread_cpu_seconds() - cpu0;
  asm volatile("" : : "r"(sum));  // the bytes were read
  r.frames = frames;
  r.bytes = total;
  return r;
}

// The bytes loaded once, read as the pipeline passes read them (fmemopen).
BareRead bare_read(const std::string& name, const std::vector<uint8_t>& file) {
  return timed_read(name, [&](char* errbuf) -> pcap_t* {
    FILE* f = fmemopen(const_cast<uint8_t*>(file.data()), file.size(), "r");
    if (!f) {
      std::snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", std::strerror(errno));
      return nullptr;
    }
    pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) std::fclose(f);
    return p;
  });
}

// The file itself, as replay_bench's BM_PcapReadBaseline reads it: open it,
// pcap_next_ex every record (through stdio and the page cache), close.
BareRead libpcap_file_read(const std::string& path) {
  return timed_read(path, [&](char* errbuf) {
    return pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                   errbuf);
  });
}

// A bar on stderr when it is a terminal; nothing otherwise.
class Progress {
 public:
  Progress(bool on, uint64_t total) : on_(on), total_(std::max<uint64_t>(1, total)) {}
  ~Progress() { finish(); }
  void set(uint64_t done, const char* what) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100) && done < total_) return;
    last_ = now;
    constexpr int kWidth = 40;
    int filled = static_cast<int>(kWidth * std::min(done, total_) / total_);
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %-24s", filled,
                 "########################################", kWidth - filled, "",
                 static_cast<int>(100 * std::min(done, total_) / total_), what);
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) std::fprintf(stderr, "\r%*s\r", 80, "");
    drawn_ = false;
  }

 private:
  bool on_;
  uint64_t total_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

// The user's config as bench runs it: events to /dev/null (still laid out
// and handed to the writer), captures into `capture_dir`.
std::shared_ptr<const Config> bench_config(const Config& base, const std::string& capture_dir) {
  auto c = std::make_shared<Config>(base);
  if (!c->log.events.empty()) c->log.events = "/dev/null";
  if (!c->capture.dir.empty()) c->capture.dir = capture_dir;
  return c;
}

struct PassResult {
  ReplayResult replay;
  BenchResult::Memory memory;
};

// from_file: the pipeline reads the file itself, as replay_bench's
// BM_ReplayPipeline does, instead of the bytes loaded once.
PassResult pipeline_pass(const std::shared_ptr<const Config>& cfg, const BenchOptions& opts,
                         const std::vector<uint8_t>& file, bool from_file, StageProfile* profile,
                         const std::function<void(uint64_t)>& progress) {
  Pipeline pipeline(cfg, Pipeline::Mode::Replay);  // fresh state: an empty DNS cache
  auto events = open_events(*cfg);
  PassResult out;
  ReplayOptions ro;
  ro.pcap_path = opts.pcap;
  ro.events = events.get();
  if (!from_file) ro.memory = std::span<const uint8_t>(file);
  ro.profile = profile;
  ro.progress = [&](uint64_t frames, const Worker& worker) {
    if (progress) progress(frames);
    if (!profile) return;
    // Memory, sampled in the profiled pass only (the DNS cache walk is not free).
    bool last = frames % kReplayProgressFrames != 0;
    if (!last && frames % (16 * kReplayProgressFrames) != 0) return;
    ProfileStage was = profile->enter(ProfileStage::Worker);
    out.memory.flow_table_bytes = worker.flows().memory_bytes();
    out.memory.flows_peak = std::max<uint64_t>(out.memory.flows_peak, worker.flows().size());
    if (DnsCache* cache = pipeline.dns_cache())
      out.memory.dns_cache_bytes =
          std::max<uint64_t>(out.memory.dns_cache_bytes, cache->memory_bytes());
    profile->enter(was);
  };
  out.replay = replay_pcap(cfg, ro, pipeline.stage_factory());
  if (events) events->flush();
  if (profile && pipeline.capture_writer())
    out.memory.capture_ring_bytes =
        std::bit_floor(uint64_t{cfg->capture.ring_bytes}) * pipeline.capture_writer()->workers();
  pipeline.shutdown();
  return out;
}

std::string flow_text(const StageProfile::LuaFlowCost& f) {
  auto ep = [](const IpAddr& a, uint16_t port) {
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(port);
  };
  std::string proto = f.proto == 6    ? "TCP"
                      : f.proto == 17 ? "UDP"
                      : f.proto == 1  ? "ICMP"
                      : f.proto == 58 ? "IPv6-ICMP"
                                      : std::to_string(f.proto);
  return proto + " " + ep(f.src, f.sport) + " -> " + ep(f.dst, f.dport);
}

void fill_profile(BenchResult& r, const StageProfile& p) {
  static constexpr ProfileStage kOrder[] = {
      ProfileStage::Read,   ProfileStage::Decode,    ProfileStage::FlowTable, ProfileStage::Dns,
      ProfileStage::Egress, ProfileStage::RuleChain, ProfileStage::Lua,       ProfileStage::Capture,
      ProfileStage::Events, ProfileStage::Worker};
  static_assert(std::size(kOrder) == kProfileStages);
  r.stage_sum_ns = 0;
  for (ProfileStage s : kOrder) {
    r.stages.push_back({std::string(to_string(s)), p.ns(s), p.entries(s)});
    r.stage_sum_ns += p.ns(s);
  }
  static constexpr const char* kHooks[] = {"on_flow", "on_packet", "on_flow_end"};
  for (size_t h = 0; h < StageProfile::kLuaHooks; ++h) {
    const auto& st = p.lua_hooks[h];
    BenchResult::LuaHook out{
        kHooks[h], st.calls, st.ns, st.latency.percentile(0.5), st.latency.percentile(0.99), {}};
    const auto& b = st.latency.buckets();
    for (size_t i = 0; i < b.size(); ++i)
      if (b[i]) out.histogram.emplace_back(LatencyHistogram::bucket_low(i), b[i]);
    r.lua_hooks.push_back(std::move(out));
  }
  std::vector<StageProfile::LuaLine> lines = p.lua_lines;
  std::sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) {
    return a.samples != b.samples ? a.samples > b.samples : a.line < b.line;
  });
  for (const auto& l : lines) r.lua_samples += l.samples;
  if (lines.size() > 15) lines.resize(15);
  for (const auto& l : lines) r.lua_lines.push_back({l.source, l.line, l.samples});
  r.lua_sample_every = p.lua_sample_every;
  std::vector<const StageProfile::LuaFlowCost*> flows;
  for (const auto& [id, f] : p.lua_flows) flows.push_back(&f);
  r.lua_flows_total = flows.size();
  size_t top = std::min<size_t>(10, flows.size());
  std::partial_sort(flows.begin(), flows.begin() + static_cast<std::ptrdiff_t>(top), flows.end(),
                    [](const auto* a, const auto* b) {
                      return a->ns != b->ns ? a->ns > b->ns : a->flow_id < b->flow_id;
                    });
  for (size_t i = 0; i < top; ++i)
    r.lua_flows.push_back({flow_text(*flows[i]), flows[i]->flow_id, flows[i]->calls, flows[i]->ns});
  r.memory.lua_bytes = p.lua_memory_peak;
}

// A temporary directory, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/tripline-bench-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("cannot make a temporary directory");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

bool write_text(const std::string& path, const std::string& text) {
  if (path == "-") return std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    spdlog::error("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

// One way of reading over the passes: packets/s, ns and CPU ns per packet.
struct Series {
  std::vector<double> pps, ns, cpu_ns;
  void add(uint64_t frames, double seconds, double cpu_seconds) {
    double n = static_cast<double>(std::max<uint64_t>(1, frames));
    pps.push_back(n / seconds);
    ns.push_back(seconds * 1e9 / n);
    cpu_ns.push_back(cpu_seconds * 1e9 / n);
  }
};

BenchResult::Rate rate_of(const Series& s) {
  return {s.pps, bench_spread(s.pps), bench_spread(s.ns), bench_spread(s.cpu_ns)};
}

// The pipeline against a baseline, pass by pass (each ratio from the same pass).
BenchResult::Comparison compare(const Series& pipeline, const Series& baseline) {
  BenchResult::Comparison c;
  c.pipeline = rate_of(pipeline);
  c.baseline = rate_of(baseline);
  std::vector<double> ratios, cpu_ratios;
  for (size_t i = 0; i < pipeline.pps.size(); ++i) {
    ratios.push_back(pipeline.pps[i] / baseline.pps[i]);
    cpu_ratios.push_back(baseline.cpu_ns[i] / pipeline.cpu_ns[i]);
  }
  c.ratio = bench_spread(ratios);
  c.cpu_ratio = bench_spread(cpu_ratios);
  return c;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchOptions& o) {
  auto* bench = app.add_subcommand("bench", "Measure your config and triggers on a pcap file");
  bench->footer(kHelp);
  bench->add_option("pcap", o.pcap, "Capture file to replay (pcap or pcapng)")
      ->required()
      ->check(CLI::ExistingFile);
  bench->add_option("-c,--config", o.config_path, "TOML config file (default: built-in defaults)")
      ->check(CLI::ExistingFile);
  bench->add_option("--repeat", o.repeat, "Timed passes (median and spread over them)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  bench->add_option("--json", o.json_path, "Write the figures as JSON here (\"-\" = stdout)");
  bench->add_option("--report", o.report_path,
                    "Write a self-contained HTML page with charts here (no network needed)");
  bench->add_flag("-q,--quiet", o.quiet, "No summary on stdout and no progress bar");
  return bench;
}

int run_bench(const BenchOptions& opts) {
  // Every pass starts from fresh memory, as `tripline replay`, replay_bench
  // and a daemon just started do: with glibc's default the flow table of a
  // later pass would reuse the pages an earlier pass left mapped, warm, and
  // the later passes would run about a fifth faster than any first pass
  // (1M interleaved packets: 433 against 545 ns a packet).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  auto base = std::make_shared<const Config>(
      opts.config_path.empty() ? Config::defaults() : Config::load_file(opts.config_path));
  TempDir capture_dir;
  auto cfg = bench_config(*base, capture_dir.path);
  std::vector<uint8_t> file = read_file(opts.pcap);

  BenchResult r;
  r.file = opts.pcap;
  r.config = opts.config_path.empty() ? "(built-in defaults)" : opts.config_path;
  r.passes = opts.repeat;
  BareRead first = bare_read(opts.pcap, file);  // also a warm-up
  r.packets = first.frames;
  r.bytes = first.bytes;
  if (r.packets == 0) throw ReplayError(opts.pcap + ": no packets");

  bool json_to_stdout = opts.json_path == "-";
  Progress progress(!opts.quiet && isatty(STDERR_FILENO), r.packets * (4 * opts.repeat + 1));
  uint64_t done = 0;
  char what[48];
  // Per pass: the pipeline and a bare read from memory, then the pipeline
  // reading the file and a libpcap read of the file (replay_bench's pair).
  Series mem_pipe, mem_read, file_pipe, file_read;
  for (unsigned i = 0; i < opts.repeat; ++i) {
    std::snprintf(what, sizeof what, "pass %u/%u", i + 1, opts.repeat);
    auto step = [&](uint64_t frames) { progress.set(done + frames, what); };
    PassResult p = pipeline_pass(cfg, opts, file, false, nullptr, step);
    done += r.packets;
    BareRead bare = bare_read(opts.pcap, file);
    done += r.packets;
    progress.set(done, what);
    PassResult pf = pipeline_pass(cfg, opts, file, true, nullptr, step);
    done += r.packets;
    BareRead fr = libpcap_file_read(opts.pcap);
    done += r.packets;
    progress.set(done, what);
    mem_pipe.add(p.replay.frames, p.replay.seconds, p.replay.cpu_seconds);
    mem_read.add(bare.frames, bare.seconds, bare.cpu_seconds);
    file_pipe.add(pf.replay.frames, pf.replay.seconds, pf.replay.cpu_seconds);
    file_read.add(fr.frames, fr.seconds, fr.cpu_seconds);
  }
  r.memory_read = compare(mem_pipe, mem_read);
  r.file_read = compare(file_pipe, file_read);

  StageProfile profile;
  PassResult p = pipeline_pass(cfg, opts, file, false, &profile, [&](uint64_t frames) {
    progress.set(done + frames, "profiled pass");
  });
  progress.finish();
  r.profiled_seconds = p.replay.seconds;
  r.memory = p.memory;
  fill_profile(r, profile);
  r.lua = !cfg->lua.script.empty();
  const CounterSnapshot& c = p.replay.counters;
#define TRIPLINE_ITEM(field, name) \
  if (c.field) r.counters.emplace_back(name, c.field);
  TRIPLINE_COUNTERS(TRIPLINE_ITEM)
#undef TRIPLINE_ITEM
  for (const auto& [name, value] : c.named)
    if (value) r.counters.emplace_back(name, value);

  bool ok = true;
  if (!opts.json_path.empty()) ok &= write_text(opts.json_path, r.to_json());
  if (!opts.report_path.empty()) ok &= write_text(opts.report_path, r.to_html());
  if (!opts.quiet && !json_to_stdout) std::fputs(r.to_text().c_str(), stdout);
  if (p.replay.truncated)
    spdlog::warn("{}: file ends inside a record after frame {}: {}", opts.pcap, p.replay.frames,
                 p.replay.error);
  return ok ? 0 : 1;
}

}  // namespace tripline
