// Policy as data: rules (a selector and an action) in named, ordered chains.
// The user's [[rule]]s form the chain "rules"; [egress] builds the chain
// "egress" after it (today's DNS-gated egress, written as rules). For each new
// flow the chains run in order; the first matching rule whose action is
// terminal (accept, drop, reject, return) ends the evaluation. alert,
// capture, continue and monitor rules are noted and the evaluation goes on.
// Built once from the Config, then read-only and shared by the workers.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "counters.h"
#include "selectors.h"
#include "stage_profile.h"

namespace tripline {

struct RuleAction {
  RuleVerb verb = RuleVerb::Continue;
  bool alert = false;
  bool capture = false;
  bool monitor = false;  // a drop/reject that only reports: alert "would_block", no verdict
  uint8_t severity = 2;
  RuleCaptureScope capture_scope = RuleCaptureScope::Flow;
  Timestamp capture_duration = 0;  // 0: [capture] defaults
  uint64_t capture_packets = 0;
  uint64_t capture_bytes = 0;
  // The decision's and alert's reason ("rule:<name>", "dns"), unless it is
  // the DNS lookup's word ("unresolved", "expired", "other-client").
  std::string reason;
  bool reason_from_dns = false;
  std::string signature;      // of the alert
  uint32_t signature_id = 0;  // EVE alert.signature_id (eve_facts.h: kSid*)
  std::string category;
  // A fixed counter a match also counts (the egress chain's egress_*).
  Counter Counters::*counter = nullptr;
  const char* counter_name = nullptr;

  // Terminal: ends the evaluation when its rule matches.
  bool terminal() const { return verb != RuleVerb::Continue && !monitor; }
  // Whether the rule raises an alert when it matches.
  bool alerts() const { return alert || monitor; }
  // `drop`, `alert, capture(flow), reject (reason rule:x)`, ...
  std::string to_string() const;
};

struct Rule {
  std::string name;  // "block-bad-net", or "egress.dns" for built-in rules
  size_t index = 0;  // position over all chains (per-rule counters)
  SelectorPtr selector;
  RuleAction action;
  ProfileStage profile = ProfileStage::RuleChain;  // its chain's (`tripline bench`)

  // "name: selector -> action"
  std::string to_string() const;
};

struct RuleChain {
  std::string name;  // "rules", "egress"
  std::string note;  // e.g. "[egress] mode = enforce, action = drop"
  std::vector<Rule> rules;
  // What `tripline bench` charges its evaluation to: Egress for "egress".
  ProfileStage profile = ProfileStage::RuleChain;
};

// The rules that matched one flow, in order, and the one that decided.
// Reused per worker: evaluate() allocates nothing once `matched` is reserved.
struct RuleEvaluation {
  std::vector<const Rule*> matched;
  const Rule* decided_by = nullptr;  // the terminal match (null: none)
};

class RuleSet {
 public:
  const std::vector<RuleChain>& chains() const { return chains_; }
  const std::vector<std::shared_ptr<const Zone>>& zones() const { return zones_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  size_t rule_count() const { return rule_count_; }
  bool empty() const { return rule_count_ == 0; }

  // Runs the chains over one flow: every matching rule goes into
  // out.matched, up to and including the first terminal one (decided_by).
  // With a profile (`tripline bench`), each chain's time is charged to its
  // chain's stage; without, that costs one null check per chain.
  void evaluate(FlowFacts& facts, RuleEvaluation& out, StageProfile* profile = nullptr) const;

  // The chains as they run, one rule a line, for `tripline check`.
  std::string to_string() const;
  // What judging an open flow again depends on: the zones, the user's rules
  // (not the egress chain: its DNS gate judges new connections only) and the
  // content of the domain_list files they read. Equal for two rule sets that
  // judge open flows alike; a reload compares them (a change judges open
  // flows again).
  std::string fingerprint() const;

 private:
  friend class RuleSetBuilder;
  std::vector<RuleChain> chains_;
  std::vector<std::shared_ptr<const Zone>> zones_;
  std::vector<std::string> warnings_;  // e.g. an interface missing (check)
  std::string list_content_;           // fingerprints of the domain_list sets, in rule order
  size_t rule_count_ = 0;
};

// How zone interfaces are resolved to indexes (if_nametoindex).
enum class InterfaceNames : uint8_t {
  Resolve,  // live: a missing interface is a ConfigError
  Report,   // check: a missing interface is a warning
  Ignore,   // replay: packets carry no interfaces; zones match by address
};

// Builds the chains from the configuration: [[rule]] as chain "rules", then
// chain "egress" unless [egress] mode is off. Loads the domain lists the rules
// name. Throws ConfigError naming file:line and key.
std::unique_ptr<RuleSet> build_rule_set(const Config& cfg, InterfaceNames interfaces);

}  // namespace tripline
