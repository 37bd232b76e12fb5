// `tripline check` with [offload] on: are the fast-path and save rules there?
// Reads the ruleset as `iptables -S` and `nft list ruleset` print it; a rule
// that accepts connections carrying the offload mark must come before the
// queue rule in the same chain (rules after a queue rule never see accepted
// packets), and so must the save rule: the deciding verdict sends its packet
// back through that chain (NF_REPEAT) with the offload bits in its packet
// mark, which the rule copies to the conntrack mark before accepting it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace tripline {

// True when `iptables_s` (iptables -S output) has, in some chain, a rule
// matching connmark `mark`/`mask` with -j ACCEPT before that chain's NFQUEUE rule.
bool iptables_has_offload_accept(std::string_view iptables_s, uint32_t mark, uint32_t mask);
// The same for `nft list ruleset` text: "ct mark & MASK == MARK accept"
// before a "queue" statement in the same chain.
bool nft_has_offload_accept(std::string_view ruleset, uint32_t mark, uint32_t mask);

// True when `iptables_s` (iptables -S output) has, in the chain of an NFQUEUE
// rule and before it, the save rule contrib/iptables adds, "-m mark --mark
// MARK/MASK -j CONNMARK --save-mark --nfmask MASK --ctmask MASK", followed by
// a rule accepting those packets ("-m mark --mark MARK/MASK -j ACCEPT").
bool iptables_has_offload_save(std::string_view iptables_s, uint32_t mark, uint32_t mask);
// The same for `nft list ruleset` text: before a "queue" statement in the
// same chain, "meta mark & MASK == MARK ct mark set ct mark & ... | MARK",
// and an accept of those packets (contrib/nftables: the same rule).
bool nft_has_offload_save(std::string_view ruleset, uint32_t mark, uint32_t mask);

// Reads the live ruleset (iptables -S, nft list ruleset; IPv4 only: contrib's scripts load both
// families alike) and returns a warning for each missing piece when [offload] is on: no fast-path
// rule, no save rule. Empty when they are there or offload is off.
std::vector<std::string> offload_rules_warnings(const OffloadConfig& cfg);

}  // namespace tripline
