#include "lua_profile.h"

#include <gtest/gtest.h>

#include <lua.hpp>
#include <string>

#include "lua_sandbox.h"

namespace tripline {
namespace {

// Runs `for i = 1, n do end` as one call; true when it stayed within the budget.
bool loop_fits(LuaSandbox& sb, int n) {
  lua_State* L = sb.state();
  lua_getglobal(L, "spin");
  lua_pushinteger(L, n);
  LuaCallResult r = sb.call(1, 0);
  EXPECT_TRUE(r == LuaCallResult::Ok || r == LuaCallResult::Budget) << sb.last_error();
  return r == LuaCallResult::Ok;
}

// The largest n that fits in the budget.
int largest_fit(LuaSandbox& sb) {
  int lo = 0, hi = 100000;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (loop_fits(sb, mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

constexpr char kScript[] =
    "function spin(n)\n"
    "  local x = 0\n"
    "  for i = 1, n do\n"
    "    x = x + i\n"
    "  end\n"
    "  return x\n"
    "end\n";

// Sampling lines must not move the budget: the same loop fits with and without.
TEST(LuaProfiler, BudgetStaysExactWhileSampling) {
  for (uint32_t budget : {50u, 100u, 1234u, 20000u}) {
    LuaSandbox plain(LuaLimits{size_t{4} << 20, budget, 0});
    plain.load(kScript, "spin.lua");
    int fits = largest_fit(plain);
    ASSERT_GT(fits, 0) << budget;

    LuaSandbox sampled(LuaLimits{size_t{4} << 20, budget, 0});
    sampled.load(kScript, "spin.lua");
    StageProfile profile;
    {
      LuaProfiler profiler(profile, sampled);
      EXPECT_EQ(largest_fit(sampled), fits) << budget;
      EXPECT_FALSE(loop_fits(sampled, 1000000));  // a runaway is still cut off
    }
    // Without the profiler the sandbox counts the budget itself again.
    EXPECT_EQ(largest_fit(sampled), fits) << budget;
  }
}

TEST(LuaProfiler, SamplesTheLinesThatRun) {
  LuaSandbox sb(LuaLimits{size_t{4} << 20, 1000000, 0});
  sb.load(kScript, "spin.lua");
  StageProfile profile;
  {
    LuaProfiler profiler(profile, sb);
    ASSERT_TRUE(loop_fits(sb, 10000));
  }
  ASSERT_FALSE(profile.lua_lines.empty());
  uint64_t total = 0, loop = 0;
  for (const auto& l : profile.lua_lines) {
    EXPECT_EQ(l.source, "spin.lua");
    total += l.samples;
    if (l.line == 3 || l.line == 4) loop += l.samples;
  }
  // Two VM instructions per iteration (ADD, FORLOOP), a sample every 100.
  EXPECT_NEAR(static_cast<double>(total), 10000.0 * 2 / LuaProfiler::kSampleEvery, 5.0);
  EXPECT_EQ(loop, total);
  EXPECT_EQ(profile.lua_sample_every, LuaProfiler::kSampleEvery);
}

// Calls far shorter than the sampling period still show, in proportion.
TEST(LuaProfiler, SamplesShortCallsToo) {
  LuaSandbox sb(LuaLimits{size_t{4} << 20, 1000000, 0});
  sb.load(kScript, "spin.lua");
  StageProfile profile;
  {
    LuaProfiler profiler(profile, sb);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(loop_fits(sb, 5));  // ~20 instructions a call
  }
  uint64_t total = 0;
  for (const auto& l : profile.lua_lines) total += l.samples;
  // About 20,000 instructions in all: ~200 samples (binomial, sd ~13).
  EXPECT_GT(total, 120u);
  EXPECT_LT(total, 300u);
}

}  // namespace
}  // namespace tripline
