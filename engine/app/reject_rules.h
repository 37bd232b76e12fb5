// Does the live ruleset carry tripline's rejects out? A reject verdict hands
// the packet back to the kernel with [egress] reject_mark (NF_REPEAT); only a
// rule that rejects packets with that mark (contrib/) turns it into a TCP
// reset / ICMP error. `tripline check` reads the ruleset back (nft, iptables,
// ip6tables) and warns when IPv4 or IPv6 has no such rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"

namespace tripline {

struct RejectRules {
  bool v4 = false;  // a rule rejects IPv4 packets carrying the mark
  bool v6 = false;
};

// `nft list ruleset` output: a rule with `meta mark <mark>` (any number form)
// and a `reject` statement, in a table of family inet, ip (v4) or ip6 (v6).
RejectRules parse_nft_reject_rules(std::string_view ruleset, uint32_t mark);
// `iptables -S` / `ip6tables -S` output: a rule with `--mark <mark>[/mask]` and `-j REJECT`.
bool parse_iptables_reject_rule(std::string_view rules, uint32_t mark);

// True when the configuration can reject (egress enforce with action reject,
// or a [[rule]] that rejects, not in monitor mode).
bool config_may_reject(const Config& c);

// Reads the ruleset with nft, iptables and ip6tables; the warning to print
// when a family lacks a reject rule for the mark (or the ruleset could not be
// read), nullopt when both are there.
std::optional<std::string> check_reject_rules(const Config& c);

}  // namespace tripline
