#include "stage_profile.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace tripline {
namespace {

TEST(LatencyHistogram, ExactBelowSixteenThenWithinAnEighth) {
  for (uint64_t v = 0; v < 16; ++v)
    EXPECT_EQ(LatencyHistogram::bucket_low(LatencyHistogram::index(v)), v);
  for (uint64_t v : {uint64_t{16}, uint64_t{17}, uint64_t{100}, uint64_t{1000}, uint64_t{123456},
                     uint64_t{1} << 40, UINT64_MAX}) {
    size_t i = LatencyHistogram::index(v);
    ASSERT_LT(i, LatencyHistogram::kBuckets);
    uint64_t lo = LatencyHistogram::bucket_low(i);
    EXPECT_LE(lo, v);
    EXPECT_LE(v - lo, lo / 8) << v;
    if (i + 1 < LatencyHistogram::kBuckets) {
      EXPECT_GT(LatencyHistogram::bucket_low(i + 1), v);
    }
  }
}

TEST(LatencyHistogram, Percentiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(0.5), 0u);
  for (int i = 0; i < 98; ++i) h.add(1000);
  h.add(100000);
  h.add(100000);
  EXPECT_EQ(h.count(), 100u);
  uint64_t p50 = h.percentile(0.5), p99 = h.percentile(0.99);
  EXPECT_NEAR(static_cast<double>(p50), 1000.0, 1000.0 / 8);
  EXPECT_NEAR(static_cast<double>(p99), 100000.0, 100000.0 / 8);
}

TEST(StageProfile, EnterChargesTheStageThatWasCurrent) {
  StageProfile p;
  uint64_t begin = StageProfile::now_ns();
  p.start(ProfileStage::Read);
  uint64_t t0 = StageProfile::now_ns();
  while (StageProfile::now_ns() - t0 < 200000) {
  }
  EXPECT_EQ(p.enter(ProfileStage::Lua), ProfileStage::Read);
  uint64_t t1 = StageProfile::now_ns();  // after enter(): the Lua time started before
  while (StageProfile::now_ns() - t1 < 100000) {
  }
  EXPECT_EQ(p.enter(ProfileStage::Events), ProfileStage::Lua);
  p.stop();
  uint64_t t2 = StageProfile::now_ns();
  EXPECT_GE(p.ns(ProfileStage::Read), 200000u);
  EXPECT_GE(p.ns(ProfileStage::Lua), 100000u);
  EXPECT_EQ(p.ns(ProfileStage::Decode), 0u);
  EXPECT_EQ(p.entries(ProfileStage::Lua), 1u);
  // Contiguous: together they are the whole time since start().
  EXPECT_LE(p.total_ns(), t2 - begin);
  EXPECT_EQ(p.total_ns(),
            p.ns(ProfileStage::Read) + p.ns(ProfileStage::Lua) + p.ns(ProfileStage::Events));
}

TEST(StageProfile, StageNames) {
  EXPECT_EQ(to_string(ProfileStage::FlowTable), "flow_table");
  EXPECT_EQ(profile_stage_of("dns"), ProfileStage::Dns);
  EXPECT_EQ(to_string(ProfileStage::Egress), "egress");
  EXPECT_EQ(to_string(ProfileStage::RuleChain), "rule_chain");
  // The policy stage names its own (PolicyStage::profile_stage), by its chains.
  EXPECT_EQ(profile_stage_of("policy"), ProfileStage::Worker);
  EXPECT_EQ(profile_stage_of("lua"), ProfileStage::Lua);
  EXPECT_EQ(profile_stage_of("something-new"), ProfileStage::Worker);
}

}  // namespace
}  // namespace tripline
