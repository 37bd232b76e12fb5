// `tripline check` with [offload] on: are the fast-path rules there? Reads
// the ruleset as `iptables -S` and `nft list ruleset` print it; a rule that
// accepts connections carrying the offload mark must come before the queue
// rule in the same chain (rules after a queue rule never see accepted packets).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config.h"

namespace tripline {

// True when `iptables_s` (iptables -S output) has, in some chain, a rule
// matching connmark `mark`/`mask` with -j ACCEPT before that chain's NFQUEUE rule.
bool iptables_has_offload_accept(std::string_view iptables_s, uint32_t mark, uint32_t mask);
// The same for `nft list ruleset` text: "ct mark & MASK == MARK accept"
// before a "queue" statement in the same chain.
bool nft_has_offload_accept(std::string_view ruleset, uint32_t mark, uint32_t mask);

// Reads the live ruleset (iptables -S, ip6tables... not needed: nft list
// ruleset covers iptables-nft too) and returns a warning when [offload] is on
// and no fast-path rule is found; empty when they are there or offload is off.
std::string offload_rules_warning(const OffloadConfig& cfg);

}  // namespace tripline
