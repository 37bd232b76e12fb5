// What `tripline bench` measured, as figures: throughput over the passes,
// where one profiled pass spent its time, Lua, memory. Written as JSON
// (--json) and as a self-contained HTML page with charts (--report).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tripline {

struct BenchSpread {
  double median = 0, min = 0, max = 0;
};
BenchSpread bench_spread(std::vector<double> values);

struct BenchResult {
  std::string file, config;
  uint64_t packets = 0, bytes = 0;
  unsigned passes = 0;
  // One way of reading the packets, over the timed passes.
  struct Rate {
    std::vector<double> per_pass;  // packets/s, one per pass
    BenchSpread pps, ns;           // packets/s, ns per packet
    // ns per packet in this thread's CPU time: what a shared, busy machine disturbs least.
    BenchSpread cpu_ns;
  };
  // The pipeline against a baseline read, ratios taken pass by pass.
  struct Comparison {
    Rate pipeline, baseline;
    BenchSpread ratio;      // pipeline packets/s over the baseline's (wall clock)
    BenchSpread cpu_ratio;  // the same in CPU time
  };
  // vs bare read from memory: the pipeline over the bytes loaded once, against
  // a libpcap read of the same bytes (fmemopen).
  Comparison memory_read;
  // vs libpcap read of the file, as replay_bench: the pipeline reading the file
  // (BM_ReplayPipeline), against pcap_open_offline + pcap_next_ex of every
  // record (BM_PcapReadBaseline).
  Comparison file_read;

  // The profiled pass (after the timed ones): the same work with the clock
  // read at each stage change.
  struct Stage {
    std::string name;
    uint64_t ns = 0;
    uint64_t entries = 0;  // times the worker entered it
  };
  double profiled_seconds = 0;
  std::vector<Stage> stages;
  uint64_t stage_sum_ns = 0;

  struct LuaHook {
    std::string name;
    uint64_t calls = 0, ns = 0;
    uint64_t p50_ns = 0, p99_ns = 0;
    std::vector<std::pair<uint64_t, uint64_t>> histogram;  // (bucket low ns, calls)
  };
  struct LuaLine {
    std::string source;
    int line = 0;
    uint64_t samples = 0;
  };
  struct LuaFlow {
    std::string flow;  // "proto src:sport -> dst:dport"
    uint64_t id = 0, calls = 0, ns = 0;
  };
  bool lua = false;
  std::vector<LuaHook> lua_hooks;
  std::vector<LuaLine> lua_lines;  // most samples first
  uint64_t lua_samples = 0, lua_sample_every = 0;
  std::vector<LuaFlow> lua_flows;  // most script time first
  uint64_t lua_flows_total = 0;

  struct Memory {
    uint64_t flow_table_bytes = 0, flows_peak = 0;
    uint64_t dns_cache_bytes = 0;
    uint64_t lua_bytes = 0;
    uint64_t capture_ring_bytes = 0;
  } memory;

  // Counters of the profiled pass (name, value).
  std::vector<std::pair<std::string, uint64_t>> counters;

  std::string to_json() const;
  std::string to_html() const;  // one page, no network: the JSON and inline JS that draws it
  std::string to_text() const;
};

}  // namespace tripline
