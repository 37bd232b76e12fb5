#include "dns_name_rules.h"

#include <utility>

#include "domain_set.h"
#include "name_rule_chain.h"

namespace tripline {

const char* block_mode_name(BlockMode m) {
  switch (m) {
    case BlockMode::Null:
      return "null";
    case BlockMode::Nxdomain:
      return "nxdomain";
    case BlockMode::Drop:
      return "drop";
  }
  return "?";
}

std::unique_ptr<NameRuleChain> build_dns_name_rules(std::shared_ptr<const DomainSet> allow,
                                                    std::shared_ptr<const DomainSet> block) {
  if (!allow && !block) return nullptr;
  auto chain = std::make_unique<NameRuleChain>(kDnsChainName, kDnsChainNote);
  if (allow) chain->add("dns.allow", NameSelector(std::move(allow)), NameAction::Allow);
  if (block) chain->add("dns.block", NameSelector(std::move(block)), NameAction::Block);
  return chain;
}

}  // namespace tripline
