// The trigger stage's part of `tripline bench`: times every call into the
// script per hook, charges the time to the flow it ran for, and samples which
// script line runs every kSampleEvery VM instructions (the count hook that
// also enforces the instruction budget). Exists only while profiling.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "stage_profile.h"

struct lua_State;
struct lua_Debug;

namespace tripline {

class LuaSandbox;
struct Flow;

class LuaProfiler {
 public:
  static constexpr uint32_t kSampleEvery = 100;

  // Installs itself as the sandbox's count hook; results go into `profile`.
  LuaProfiler(StageProfile& profile, LuaSandbox& sandbox);
  // Merges the line samples into the profile and gives the sandbox its own hook back.
  ~LuaProfiler();
  LuaProfiler(const LuaProfiler&) = delete;
  LuaProfiler& operator=(const LuaProfiler&) = delete;

  uint64_t begin() const { return StageProfile::now_ns(); }
  // One call of `hook` (StageProfile::LuaHook) that started at `started`.
  void end(int hook, const Flow* flow, uint64_t started);

  // The sandbox calls this before each call with the call's budget and sets
  // its count hook to the returned step: the budget stays exact, counted down
  // in steps of kSampleEvery. The first step of a call is 1..kSampleEvery at
  // random, so calls shorter than kSampleEvery instructions are sampled too,
  // in proportion to their length.
  uint32_t arm(uint32_t budget);
  // From the sandbox's count hook: samples the running line and counts the
  // step down; returns the next step, or 0 when the budget is spent.
  int step(lua_State* L, lua_Debug* ar);

 private:
  void sample(lua_State* L, lua_Debug* ar);

  StageProfile& profile_;
  LuaSandbox& sandbox_;
  uint32_t remaining_ = 0;              // instructions left in this call's budget
  int step_ = 0;                        // the count the hook is set to now
  uint64_t rng_ = 0x9e3779b97f4a7c15u;  // xorshift64: the first step of each call
  // Samples by (source index << 32 | line); sources by their Lua string pointer.
  std::unordered_map<uint64_t, uint64_t> samples_;
  std::vector<std::pair<const char*, std::string>> sources_;
};

}  // namespace tripline
