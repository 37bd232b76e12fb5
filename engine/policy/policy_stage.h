// The policy stage: runs the rule chains (rule_chain.h: the user's [[rule]]s,
// then the egress chain built from [egress]) on every new flow and carries out
// what matched: per-rule counters, captures, the flow's decision, and alerts.
// Flows that passed keep passing until they end, unless a reload changes the
// rules: then the open flows are judged again (PacketContext::rejudge) and a
// rule that blocks one blocks it; the DNS gate checks new flows only.
// A blocked flow goes on to the stages after this one (triggers have the last
// word); its alerts are written once the flow's decision is final.
#pragma once

#include <vector>

#include "config.h"
#include "rule_chain.h"
#include "stage.h"
#include "stage_env.h"

namespace tripline {

class DnsCache;
class ClientNames;
class HostTable;

class PolicyStage final : public Stage {
 public:
  // rules, cache, hosts and names (all but rules may be null) must outlive the stage;
  // names: client names from DHCP leases, attached to each new flow.
  PolicyStage(const Config& cfg, const RuleSet& rules, const DnsCache* cache, StageEnv& env,
              const HostTable* hosts = nullptr, const ClientNames* names = nullptr);

  std::string_view name() const override { return "policy"; }
  // `tripline bench`: the stage's own work on a new flow (the flow's facts,
  // its client) goes to the first chain's stage; each chain's evaluation and
  // what its matches do (counters, captures, alerts) to that chain's stage.
  ProfileStage profile_stage() const override { return own_profile_; }
  bool likes(const PacketContext& ctx) const override;
  Next inspect(PacketContext& ctx) override;
  void on_new_flow_decided(const PacketContext& ctx) override;

 private:
  Next rejudge(PacketContext& ctx);
  std::string_view reason_of(const Rule& rule);
  void start_capture(const PacketContext& ctx, const Rule& rule);
  void emit_alert(const PacketContext& ctx, const Rule& rule, bool blocked);

  const Config& cfg_;
  const RuleSet& rules_;
  StageEnv& env_;
  FlowFacts facts_;
  const ClientNames* names_;
  ProfileStage own_profile_;
  RuleEvaluation eval_;
  std::vector<Counter*> rule_counters_;  // by Rule::index, in this worker's counters
  std::vector<uint64_t> capture_of_;     // by Rule::index: the session its match started (0: none)
  bool alerts_pending_ = false;          // eval_ has alerts for the flow being decided
  bool blocked_ = false;                 // ... and the rules blocked it
  PacketMeta rejudge_meta_;              // a re-judged flow's meta, seen from its client
  // By Rule::index: its reason, interned: a flow keeps it after a reload frees the rules.
  std::vector<std::string_view> reasons_;
};

}  // namespace tripline
