#include "name_rule_chain.h"

#include <utility>

namespace tripline {

const char* to_string(NameAction a) {
  switch (a) {
    case NameAction::Allow:
      return "allow";
    case NameAction::Block:
      return "block";
  }
  return "?";
}

NameSelector::NameSelector(std::shared_ptr<const DomainSet> set, std::string shown)
    : set_(std::move(set)), shown_(std::move(shown)) {
  if (!shown_.empty()) return;
  const auto& labels = set_->labels();
  if (labels.size() == 1) {
    shown_ = labels.front();
    return;
  }
  shown_ = "[";
  for (size_t i = 0; i < labels.size(); ++i) shown_ += (i ? ", " : "") + labels[i];
  shown_ += "]";
}

const std::string* NameSelector::match(std::span<const std::string> names) const {
  for (const std::string& name : names)
    if (DomainMatch hit = set_->find(name)) return hit.label;
  return nullptr;
}

std::string NameSelector::to_string() const { return "name in " + shown_; }

std::string NameRule::to_string(std::string_view block_as) const {
  std::string out = name + ": " + selector.to_string() + " -> " + tripline::to_string(action);
  if (action == NameAction::Block && !block_as.empty()) out += " (" + std::string(block_as) + ")";
  return out;
}

void NameRuleChain::add(std::string rule_name, NameSelector selector, NameAction action) {
  size_t index = rules_.size();
  rules_.push_back(NameRule{std::move(rule_name), index, std::move(selector), action});
}

NameVerdict NameRuleChain::evaluate(std::span<const std::string> names) const {
  for (const NameRule& rule : rules_) {
    if (const std::string* label = rule.selector.match(names)) return {&rule, *label};
  }
  return {};
}

std::string NameRuleChain::to_string(std::string_view block_as) const {
  std::string out = "  chain " + name_ + (note_.empty() ? "" : " (" + note_ + ")") + ":\n";
  for (const NameRule& rule : rules_) {
    std::string num = std::to_string(rule.index + 1);
    out += std::string(num.size() < 2 ? 5 : 4, ' ') + num + ". " + rule.to_string(block_as) + "\n";
  }
  return out;
}

}  // namespace tripline
