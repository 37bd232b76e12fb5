#include "startup_plan.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace tripline {
namespace {

#define EXPECT_PREFIX(text, prefix) EXPECT_EQ((text).rfind(prefix, 0), 0u) << (text)

constexpr uint64_t kGiB = uint64_t{1} << 30;

std::string check_error(const Config& c, uint64_t machine_bytes) {
  try {
    check_startup(c, plan_startup(c, machine_bytes));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const MemoryItem* item(const StartupPlan& p, const std::string& what) {
  for (const auto& i : p.items)
    if (i.what == what) return &i;
  return nullptr;
}

TEST(StartupPlan, FlowsScaleWithWorkersAndCapacity) {
  Config one = Config::load_string("[queue]\ncount = 1\n", "t.toml");
  Config fifty = Config::load_string("[queue]\ncount = 50\n", "t.toml");
  StartupPlan p1 = plan_startup(one, 64 * kGiB);
  StartupPlan p50 = plan_startup(fifty, 64 * kGiB);
  ASSERT_NE(item(p1, "flows"), nullptr);
  EXPECT_EQ(item(p50, "flows")->bytes, 50 * item(p1, "flows")->bytes);
  // 65,536 flows of at least their slot each.
  EXPECT_GE(item(p1, "flows")->bytes, 65536u * 64);
  // 64 receive slots of a 64 kB packet each, per queue.
  EXPECT_GE(item(p1, "receive buffers")->bytes, 64u * 65535);
  EXPECT_EQ(p50.total, 50 * p1.total);  // no DNS, capture or Lua: all per worker
  // The 50-queue default configuration takes hundreds of MB: check says so.
  EXPECT_GT(p50.total, uint64_t{500} << 20);
  EXPECT_NE(p50.describe().find("50 workers"), std::string::npos) << p50.describe();
}

TEST(StartupPlan, OptionalPartsOnlyWhenConfigured) {
  Config plain = Config::defaults();
  StartupPlan p = plan_startup(plain, 64 * kGiB);
  EXPECT_EQ(item(p, "DNS cache"), nullptr);
  EXPECT_EQ(item(p, "capture rings"), nullptr);
  Config dns =
      Config::load_string("[dns]\nresolvers = [\"10.0.0.53\"]\nmax_entries = 1000\n", "t.toml");
  ASSERT_NE(item(plan_startup(dns, 64 * kGiB), "DNS cache"), nullptr);
  EXPECT_GT(item(plan_startup(dns, 64 * kGiB), "DNS cache")->bytes, 1000u * 32);
}

TEST(StartupPlan, RefusesMoreMemoryThanTheMachineHasNamingKeyAndLine) {
  Config big = Config::load_string(
      "[queue]\ncount = 4\n[flows]\n\ncapacity = 16000000\n[log]\nevents = \"\"\n",
      "t.toml");  // no event log: its default folder may not exist here
  EXPECT_EQ(check_error(big, 1024 * kGiB), "");
  EXPECT_PREFIX(check_error(big, 4 * kGiB), "t.toml:5: flows.capacity");
  Config fits = Config::load_string("[flows]\ncapacity = 1000\n[log]\nevents = \"\"\n", "t.toml");
  EXPECT_EQ(check_error(fits, 4 * kGiB), "");
}

TEST(StartupPlan, RefusesAMissingEventFolder) {
  Config c =
      Config::load_string("\n[log]\nevents = \"/nonexistent-tripline/eve.json\"\n", "t.toml");
  EXPECT_PREFIX(check_error(c, 64 * kGiB), "t.toml:3: log.events");
  Config ok = Config::load_string("[log]\nevents = \"/tmp/eve.json\"\n", "t.toml");
  EXPECT_EQ(check_error(ok, 64 * kGiB), "");
  Config stdout_log = Config::load_string("[log]\nevents = \"-\"\n", "t.toml");
  EXPECT_EQ(check_error(stdout_log, 64 * kGiB), "");
}

}  // namespace
}  // namespace tripline
