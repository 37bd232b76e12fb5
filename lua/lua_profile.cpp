#include "lua_profile.h"

#include <algorithm>
#include <lua.hpp>

#include "flow_table.h"
#include "lua_sandbox.h"

namespace tripline {

LuaProfiler::LuaProfiler(StageProfile& profile, LuaSandbox& sandbox)
    : profile_(profile), sandbox_(sandbox) {
  profile_.lua_sample_every = kSampleEvery;
  sandbox_.set_sampler(this);
}

LuaProfiler::~LuaProfiler() {
  sandbox_.set_sampler(nullptr);  // the sandbox sets its own count before the next call
  for (const auto& [key, n] : samples_) {
    const std::string& source = sources_[key >> 32].second;
    int line = static_cast<int>(key & 0xffffffffu);
    auto it = std::find_if(profile_.lua_lines.begin(), profile_.lua_lines.end(),
                           [&](const auto& l) { return l.line == line && l.source == source; });
    if (it == profile_.lua_lines.end())
      profile_.lua_lines.push_back({source, line, n});
    else
      it->samples += n;
  }
}

void LuaProfiler::end(int hook, const Flow* flow, uint64_t started) {
  uint64_t ns = StageProfile::now_ns() - started;
  auto& h = profile_.lua_hooks[static_cast<size_t>(hook)];
  ++h.calls;
  h.ns += ns;
  h.latency.add(ns);
  if (flow) {
    auto [it, fresh] = profile_.lua_flows.try_emplace(flow->id);
    StageProfile::LuaFlowCost& c = it->second;
    if (fresh) {
      c.flow_id = flow->id;
      c.src = flow->src();
      c.dst = flow->dst();
      c.sport = flow->sport();
      c.dport = flow->dport();
      c.proto = flow->proto();
    }
    ++c.calls;
    c.ns += ns;
  }
  profile_.lua_memory_peak = std::max(profile_.lua_memory_peak, sandbox_.memory_used());
}

uint32_t LuaProfiler::arm(uint32_t budget) {
  remaining_ = budget;
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  auto first = static_cast<uint32_t>(1 + rng_ % kSampleEvery);
  step_ = static_cast<int>(std::min(budget, first));
  return static_cast<uint32_t>(step_);
}

int LuaProfiler::step(lua_State* L, lua_Debug* ar) {
  sample(L, ar);
  remaining_ -= std::min<uint32_t>(remaining_, static_cast<uint32_t>(step_));
  if (remaining_ == 0) return 0;
  step_ = static_cast<int>(std::min(remaining_, kSampleEvery));
  return step_;
}

void LuaProfiler::sample(lua_State* L, lua_Debug* ar) {
  if (!lua_getinfo(L, "Sl", ar) || ar->currentline < 0) return;
  size_t index = 0;
  while (index < sources_.size() && sources_[index].first != ar->source) ++index;
  if (index == sources_.size()) {
    std::string name = ar->source ? ar->source : "?";
    if (!name.empty() && (name[0] == '@' || name[0] == '=')) name.erase(0, 1);
    sources_.emplace_back(ar->source, std::move(name));
  }
  ++samples_[(static_cast<uint64_t>(index) << 32) | static_cast<uint32_t>(ar->currentline)];
}

}  // namespace tripline
