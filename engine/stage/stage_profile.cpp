#include "stage_profile.h"

#include <bit>

namespace tripline {

std::string_view to_string(ProfileStage s) {
  switch (s) {
    case ProfileStage::Read:
      return "read";
    case ProfileStage::Decode:
      return "decode";
    case ProfileStage::FlowTable:
      return "flow_table";
    case ProfileStage::Dns:
      return "dns";
    case ProfileStage::Egress:
      return "egress";
    case ProfileStage::RuleChain:
      return "rule_chain";
    case ProfileStage::Lua:
      return "lua";
    case ProfileStage::Capture:
      return "capture";
    case ProfileStage::Events:
      return "events";
    case ProfileStage::Worker:
      return "worker";
  }
  return "?";
}

ProfileStage profile_stage_of(std::string_view name) {
  if (name == "dns") return ProfileStage::Dns;
  if (name == "lua") return ProfileStage::Lua;
  return ProfileStage::Worker;
}

size_t LatencyHistogram::index(uint64_t ns) {
  if (ns < 16) return static_cast<size_t>(ns);
  int e = 63 - std::countl_zero(ns);  // 4..63
  size_t sub = static_cast<size_t>((ns >> (e - 3)) & 7);
  size_t i = static_cast<size_t>(e - 2) * 8 + sub;
  return i < kBuckets ? i : kBuckets - 1;
}

uint64_t LatencyHistogram::bucket_low(size_t i) {
  if (i < 16) return i;
  size_t e = i / 8 + 2;
  return (8 + i % 8) << (e - 3);
}

uint64_t LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(p * static_cast<double>(count_ - 1)) + 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t lo = bucket_low(i);
      uint64_t hi = i + 1 < kBuckets ? bucket_low(i + 1) : lo;
      return lo + (hi - lo) / 2;
    }
  }
  return bucket_low(kBuckets - 1);
}

uint64_t StageProfile::total_ns() const {
  uint64_t t = 0;
  for (uint64_t n : ns_) t += n;
  return t;
}

}  // namespace tripline
