// The DNS answer name policy as data: the chain "dns" of name rules (rules/
// name_rule_chain.h) the observer runs on each trusted, matched answer. Built
// once from [dns]: rule dns.allow from allow_lists, then dns.block from
// block_lists (each only if lists are given), as the block/allow lists always
// behaved: any allowed name on the answer's chain wins over a blocked one.
#pragma once

#include <memory>

#include "config.h"

namespace tripline {

class DomainSet;
class NameRuleChain;

// The chain's name and what `tripline check` says about where it comes from.
inline constexpr const char* kDnsChainName = "dns";
inline constexpr const char* kDnsChainNote = "[dns] block_lists/allow_lists, on trusted answers";

// "null", "nxdomain", "drop": how a block action answers ([dns] block_mode).
const char* block_mode_name(BlockMode m);

// The default chain from the loaded lists (either may be null); null when
// there are none, i.e. nothing can be blocked.
std::unique_ptr<NameRuleChain> build_dns_name_rules(std::shared_ptr<const DomainSet> allow,
                                                    std::shared_ptr<const DomainSet> block);

}  // namespace tripline
