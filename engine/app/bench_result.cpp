#include "bench_result.h"

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>

namespace tripline {
namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void key(Writer& w, const char* k) { w.Key(k); }
void spread(Writer& w, const char* k, const BenchSpread& s) {
  key(w, k);
  w.StartObject();
  key(w, "median");
  w.Double(s.median);
  key(w, "min");
  w.Double(s.min);
  key(w, "max");
  w.Double(s.max);
  w.EndObject();
}
void rate(Writer& w, const char* k, const BenchResult::Rate& r) {
  key(w, k);
  w.StartObject();
  spread(w, "packets_per_second", r.pps);
  spread(w, "ns_per_packet", r.ns);
  spread(w, "cpu_ns_per_packet", r.cpu_ns);
  key(w, "per_pass_packets_per_second");
  w.StartArray();
  for (double d : r.per_pass) w.Double(d);
  w.EndArray();
  w.EndObject();
}
void str(Writer& w, const char* k, const std::string& v) {
  key(w, k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void u64(Writer& w, const char* k, uint64_t v) {
  key(w, k);
  w.Uint64(v);
}
void dbl(Writer& w, const char* k, double v) {
  key(w, k);
  w.Double(v);
}

std::string mib(uint64_t bytes) {
  if (bytes >= (1u << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
}

}  // namespace

BenchSpread bench_spread(std::vector<double> v) {
  BenchSpread s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}

std::string BenchResult::to_json() const {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.SetIndent(' ', 1);
  double pk = static_cast<double>(std::max<uint64_t>(1, packets));
  w.StartObject();
  str(w, "file", file);
  str(w, "config", config);
  u64(w, "packets", packets);
  u64(w, "bytes", bytes);
  u64(w, "passes", passes);
  // vs bare read from memory: the pipeline over the bytes loaded once.
  rate(w, "pipeline", memory_read.pipeline);
  rate(w, "bare_read", memory_read.baseline);
  spread(w, "ratio", memory_read.ratio);
  spread(w, "cpu_ratio", memory_read.cpu_ratio);
  // vs libpcap read of the file, as replay_bench (BM_ReplayPipeline over
  // BM_PcapReadBaseline).
  key(w, "file_read");
  w.StartObject();
  rate(w, "pipeline", file_read.pipeline);
  rate(w, "libpcap_read", file_read.baseline);
  spread(w, "ratio", file_read.ratio);
  spread(w, "cpu_ratio", file_read.cpu_ratio);
  w.EndObject();

  key(w, "profile");
  w.StartObject();
  double total_ns = profiled_seconds * 1e9;
  dbl(w, "seconds", profiled_seconds);
  dbl(w, "total_ns", total_ns);
  dbl(w, "ns_per_packet", total_ns / pk);
  u64(w, "stage_sum_ns", stage_sum_ns);
  key(w, "stages");
  w.StartArray();
  for (const Stage& s : stages) {
    w.StartObject();
    str(w, "name", s.name);
    u64(w, "ns", s.ns);
    dbl(w, "ns_per_packet", static_cast<double>(s.ns) / pk);
    dbl(w, "share", total_ns > 0 ? static_cast<double>(s.ns) / total_ns : 0);
    u64(w, "entries", s.entries);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  key(w, "lua");
  w.StartObject();
  key(w, "on");
  w.Bool(lua);
  key(w, "hooks");
  w.StartArray();
  for (const LuaHook& h : lua_hooks) {
    w.StartObject();
    str(w, "name", h.name);
    u64(w, "calls", h.calls);
    u64(w, "total_ns", h.ns);
    dbl(w, "mean_ns", h.calls ? static_cast<double>(h.ns) / static_cast<double>(h.calls) : 0);
    u64(w, "p50_ns", h.p50_ns);
    u64(w, "p99_ns", h.p99_ns);
    key(w, "histogram");  // [bucket low ns, calls]; a bucket spans to the next one's low
    w.StartArray();
    for (const auto& [lo, n] : h.histogram) {
      w.StartArray();
      w.Uint64(lo);
      w.Uint64(n);
      w.EndArray();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  u64(w, "sample_every_instructions", lua_sample_every);
  u64(w, "samples", lua_samples);
  key(w, "lines");
  w.StartArray();
  for (const LuaLine& l : lua_lines) {
    w.StartObject();
    str(w, "source", l.source);
    u64(w, "line", static_cast<uint64_t>(l.line));
    u64(w, "samples", l.samples);
    dbl(w, "share",
        lua_samples ? static_cast<double>(l.samples) / static_cast<double>(lua_samples) : 0);
    w.EndObject();
  }
  w.EndArray();
  u64(w, "flows_with_calls", lua_flows_total);
  key(w, "flows");
  w.StartArray();
  for (const LuaFlow& f : lua_flows) {
    w.StartObject();
    str(w, "flow", f.flow);
    u64(w, "flow_id", f.id);
    u64(w, "calls", f.calls);
    u64(w, "ns", f.ns);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  key(w, "memory");
  w.StartObject();
  u64(w, "flow_table_bytes", memory.flow_table_bytes);
  u64(w, "flows_peak", memory.flows_peak);
  u64(w, "dns_cache_bytes", memory.dns_cache_bytes);
  u64(w, "lua_bytes", memory.lua_bytes);
  u64(w, "capture_ring_bytes", memory.capture_ring_bytes);
  w.EndObject();

  key(w, "counters");
  w.StartObject();
  for (const auto& [name, value] : counters) u64(w, name.c_str(), value);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string BenchResult::to_text() const {
  double pk = static_cast<double>(std::max<uint64_t>(1, packets));
  std::string out = fmt::format("tripline bench {}: {} packets, {} bytes; config {}; {} passes\n\n",
                                file, packets, bytes, config, passes);
  // Two rows (packets/s, ns/packet) for one way of reading.
  auto rows = [&](const char* label, const Rate& r) {
    out += fmt::format("{:<34} {:>9.0f} packets/s  {:.0f} .. {:.0f}\n", label, r.pps.median,
                       r.pps.min, r.pps.max);
    out += fmt::format("{:<34} {:>9.1f} ns/packet  {:.1f} .. {:.1f}\n", "", r.ns.median, r.ns.min,
                       r.ns.max);
  };
  auto ratio_row = [&](const char* label, const Comparison& c) {
    out += fmt::format("{:<34} {:>9.3f} x          {:.3f} .. {:.3f}\n", label, c.ratio.median,
                       c.ratio.min, c.ratio.max);
  };
  out += fmt::format("{:<34} {:>9}            min .. max\n", "", "median");
  rows("pipeline, from memory", memory_read.pipeline);
  rows("bare read from memory", memory_read.baseline);
  ratio_row("ratio vs bare read from memory", memory_read);
  out += "\n";
  rows("pipeline, reading the file", file_read.pipeline);
  rows("libpcap read of the file", file_read.baseline);
  ratio_row("ratio vs libpcap read of the file", file_read);
  out += "  (as replay_bench's vs_baseline: BM_ReplayPipeline over BM_PcapReadBaseline)\n";
  auto cpu = [&](const char* label, const char* base, const Comparison& c) {
    out += fmt::format(
        "on CPU, {}: {:.1f} ns/packet pipeline, {:.1f} {}, ratio {:.3f} ({:.3f} .. {:.3f})\n",
        label, c.pipeline.cpu_ns.median, c.baseline.cpu_ns.median, base, c.cpu_ratio.median,
        c.cpu_ratio.min, c.cpu_ratio.max);
  };
  out += "\n";
  cpu("from memory", "bare read", memory_read);
  cpu("reading the file", "libpcap read", file_read);
  out += "\n";

  double total_ns = profiled_seconds * 1e9;
  out += fmt::format(
      "where the time goes (one more pass with the profile on: {:.1f} ns/packet, clock reads "
      "included)\n",
      total_ns / pk);
  out += "  stage         ns/packet   share\n";
  for (const Stage& s : stages)
    out += fmt::format("  {:<12} {:>10.1f}  {:>5.1f} %\n", s.name, static_cast<double>(s.ns) / pk,
                       total_ns > 0 ? 100.0 * static_cast<double>(s.ns) / total_ns : 0);
  out += fmt::format("  {:<12} {:>10.1f}  {:>5.1f} %\n", "(sum)",
                     static_cast<double>(stage_sum_ns) / pk,
                     total_ns > 0 ? 100.0 * static_cast<double>(stage_sum_ns) / total_ns : 0);

  if (lua) {
    out += "\nLua  hook            calls    p50 ns    p99 ns   mean ns\n";
    for (const LuaHook& h : lua_hooks)
      out += fmt::format("     {:<12} {:>9} {:>9} {:>9} {:>9.0f}\n", h.name, h.calls, h.p50_ns,
                         h.p99_ns,
                         h.calls ? static_cast<double>(h.ns) / static_cast<double>(h.calls) : 0);
    if (!lua_lines.empty()) {
      out +=
          fmt::format("     lines that run most (a sample every {} VM instructions, {} samples)\n",
                      lua_sample_every, lua_samples);
      for (size_t i = 0; i < std::min<size_t>(5, lua_lines.size()); ++i)
        out += fmt::format(
            "       {}:{}  {:.1f} %\n", lua_lines[i].source, lua_lines[i].line,
            100.0 * static_cast<double>(lua_lines[i].samples) / static_cast<double>(lua_samples));
    }
    if (!lua_flows.empty()) {
      out +=
          fmt::format("     flows costing most script time (of {} with calls)\n", lua_flows_total);
      for (size_t i = 0; i < std::min<size_t>(5, lua_flows.size()); ++i)
        out += fmt::format("       {:>9} ns in {} calls  {}\n", lua_flows[i].ns, lua_flows[i].calls,
                           lua_flows[i].flow);
    }
  }
  out += fmt::format(
      "\nmemory (peak)  flow table {} ({} flows at most)  DNS cache {}  Lua {}  capture rings {}\n",
      mib(memory.flow_table_bytes), memory.flows_peak, mib(memory.dns_cache_bytes),
      mib(memory.lua_bytes), mib(memory.capture_ring_bytes));
  return out;
}

}  // namespace tripline
