// Where a worker's time goes, for `tripline bench`: the worker charges the
// time between two enter() calls to the stage entered first, so the stages add
// up to the time the worker ran. A worker without a profile (live, replay)
// pays one null check per stage call; the clock is read only when profiling.
#pragma once

#include <time.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ip_address.h"

namespace tripline {

enum class ProfileStage : uint8_t {
  Read,       // the source: the next record of the pcap
  Decode,     // link layer, IP, ports
  FlowTable,  // lookup/insert, TCP state, timeouts
  Dns,        // the DNS observer (answers from trusted resolvers into the cache)
  Egress,     // the egress chain ([egress]: DNS-gated, its DNS cache lookup included)
  RuleChain,  // the user's [[rule]] chain (and the policy stage's own work when it runs first)
  Lua,        // trigger scripts
  Capture,    // trigger-started recording
  Events,     // flow-end events (EVE layout, hand-off to the writer)
  Worker,     // verdict counting and what is left between stages
};
constexpr size_t kProfileStages = 10;
// "read", "decode", "flow_table", "dns", "egress", "rule_chain", "lua", "capture",
// "events", "worker"
std::string_view to_string(ProfileStage s);
// The stage a Stage::name() is charged to by default ("dns", "lua"; others:
// Worker). The policy stage says itself (Stage::profile_stage) and charges each
// chain it runs to that chain's stage (Egress, RuleChain).
ProfileStage profile_stage_of(std::string_view stage_name);

// Latencies in log-linear buckets, 8 per power of two (values below 16 ns
// exact, otherwise within 12.5 %).
class LatencyHistogram {
 public:
  static constexpr size_t kBuckets = 8 * 62;
  void add(uint64_t ns) { ++buckets_[index(ns)], ++count_; }
  uint64_t count() const { return count_; }
  // The middle of the bucket holding the p-th quantile (p in 0..1); 0 when empty.
  uint64_t percentile(double p) const;
  static size_t index(uint64_t ns);
  static uint64_t bucket_low(size_t i);
  const std::array<uint64_t, kBuckets>& buckets() const { return buckets_; }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
};

class StageProfile {
 public:
  static uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
  }

  // Starts the clock, charging to `s`.
  void start(ProfileStage s) {
    last_ = now_ns();
    current_ = s;
  }
  // Charges the time since the last enter() to the stage then current and
  // makes `s` current; returns the stage that was current.
  ProfileStage enter(ProfileStage s) {
    uint64_t t = now_ns();
    auto i = static_cast<size_t>(current_);
    ns_[i] += t - last_;
    last_ = t;
    ProfileStage prev = current_;
    current_ = s;
    ++entries_[static_cast<size_t>(s)];
    return prev;
  }
  // Charges the time since the last enter() and stops.
  void stop() { enter(current_); }

  uint64_t ns(ProfileStage s) const { return ns_[static_cast<size_t>(s)]; }
  uint64_t entries(ProfileStage s) const { return entries_[static_cast<size_t>(s)]; }
  uint64_t total_ns() const;

  // Lua (filled by the trigger stage's profiler, lua/lua_profile.h).
  enum LuaHook : uint8_t { OnFlow, OnPacket, OnFlowEnd };
  static constexpr size_t kLuaHooks = 3;
  struct LuaHookStats {
    uint64_t calls = 0;
    uint64_t ns = 0;
    LatencyHistogram latency;
  };
  struct LuaLine {
    std::string source;  // the chunk name ("@path" shown as path)
    int line = 0;
    uint64_t samples = 0;
  };
  struct LuaFlowCost {
    uint64_t flow_id = 0;
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
    uint8_t proto = 0;
    uint64_t calls = 0;
    uint64_t ns = 0;
  };
  std::array<LuaHookStats, kLuaHooks> lua_hooks;
  std::vector<LuaLine> lua_lines;                       // merged when a Lua profiler ends
  uint64_t lua_sample_every = 0;                        // VM instructions between two line samples
  std::unordered_map<uint64_t, LuaFlowCost> lua_flows;  // by flow id
  size_t lua_memory_peak = 0;                           // bytes a worker's Lua state held

 private:
  std::array<uint64_t, kProfileStages> ns_{};
  std::array<uint64_t, kProfileStages> entries_{};
  uint64_t last_ = 0;
  ProfileStage current_ = ProfileStage::Worker;
};

}  // namespace tripline
