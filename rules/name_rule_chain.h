// Rules over the names of a DNS answer (its question and CNAME chain): a name
// selector (the names against a DomainSet) and an action (allow or block), in
// one named, ordered chain; the first matching rule decides. Built once from
// configuration, then read-only: evaluate() is safe from every worker and
// allocates nothing. The DNS observer runs it on trusted answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain_set.h"

namespace tripline {

enum class NameAction : uint8_t {
  Allow,  // stop: the answer is not blocked
  Block,  // stop: the answer is blocked, reason = the matching list's label
};

const char* to_string(NameAction a);

// Matches when any of the answer's names is in the set or under a listed name.
class NameSelector {
 public:
  // `shown` is what to_string prints after "name in " (e.g. "blocklist:a.txt");
  // empty: the set's list labels.
  explicit NameSelector(std::shared_ptr<const DomainSet> set, std::string shown = {});

  // The label of the list holding the first of `names` that matches
  // ("blocklist:a.txt"); null when none does. Never allocates.
  const std::string* match(std::span<const std::string> names) const;
  // "name in allowlist:a.txt", "name in [blocklist:a.txt, blocklist:b.txt]"
  std::string to_string() const;
  const DomainSet& set() const { return *set_; }

 private:
  std::shared_ptr<const DomainSet> set_;
  std::string shown_;
};

struct NameRule {
  std::string name;  // "dns.allow", "dns.block": counter rule.<name>
  size_t index = 0;  // position in the chain (per-rule counters)
  NameSelector selector;
  NameAction action = NameAction::Block;

  // "dns.block: name in blocklist:a.txt -> block"; `block_as` is added to a
  // block action in parentheses ("null", "nxdomain", "drop") when not empty.
  std::string to_string(std::string_view block_as = {}) const;
};

// What one evaluation decided.
struct NameVerdict {
  const NameRule* rule = nullptr;  // the first matching rule; null: none (not blocked)
  std::string_view label;          // the label of the list that matched
  bool blocked() const { return rule && rule->action == NameAction::Block; }
};

class NameRuleChain {
 public:
  NameRuleChain(std::string name, std::string note)
      : name_(std::move(name)), note_(std::move(note)) {}

  // Appends a rule (in evaluation order).
  void add(std::string rule_name, NameSelector selector, NameAction action);

  // Runs the rules in order over the names; the first whose selector matches
  // decides. Never allocates.
  NameVerdict evaluate(std::span<const std::string> names) const;

  const std::string& name() const { return name_; }
  const std::string& note() const { return note_; }
  const std::vector<NameRule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }

  // "  chain dns (note):\n     1. dns.allow: name in allowlist:a.txt -> allow\n..."
  // for `tripline check`; `block_as` as in NameRule::to_string.
  std::string to_string(std::string_view block_as = {}) const;

 private:
  std::string name_;
  std::string note_;
  std::vector<NameRule> rules_;
};

}  // namespace tripline
