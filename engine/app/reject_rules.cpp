#include "reject_rules.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "command_output.h"

namespace tripline {
namespace {

// "0x7470", "0x00007470", "29808", "0x7470/0xffffffff" (a full mask only).
std::optional<uint32_t> parse_mark(std::string s) {
  if (auto slash = s.find('/'); slash != std::string::npos) {
    std::string mask = s.substr(slash + 1);
    s.resize(slash);
    char* end = nullptr;
    unsigned long m = std::strtoul(mask.c_str(), &end, 0);
    if (!end || *end || m != 0xffffffffUL) return std::nullopt;
  }
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  unsigned long v = std::strtoul(s.c_str(), &end, 0);
  if (!end || *end || v > 0xffffffffUL) return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace

RejectRules parse_nft_reject_rules(std::string_view ruleset, uint32_t mark) {
  RejectRules r;
  std::string family;  // of the table being read
  std::istringstream in{std::string(ruleset)};
  std::string line;
  while (std::getline(in, line)) {
    auto w = words(line);
    if (w.size() >= 3 && w[0] == "table") {
      family = w[1];
      continue;
    }
    bool marked = false, rejects = false;
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] == "reject") rejects = true;
      if (w[i] == "meta" && i + 2 < w.size() && w[i + 1] == "mark" && parse_mark(w[i + 2]) == mark)
        marked = true;
    }
    if (!marked || !rejects) continue;
    if (family == "inet" || family == "ip") r.v4 = true;
    if (family == "inet" || family == "ip6") r.v6 = true;
  }
  return r;
}

bool parse_iptables_reject_rule(std::string_view rules, uint32_t mark) {
  std::istringstream in{std::string(rules)};
  std::string line;
  while (std::getline(in, line)) {
    auto w = words(line);
    bool marked = false, rejects = false;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      if (w[i] == "--mark" && parse_mark(w[i + 1]) == mark) marked = true;
      if (w[i] == "-j" && w[i + 1] == "REJECT") rejects = true;
    }
    if (marked && rejects) return true;
  }
  return false;
}

bool config_may_reject(const Config& c) {
  if (c.egress.mode == EgressMode::Enforce && c.egress.action == Verdict::Reject) return true;
  for (const RuleConfig& r : c.rules)
    if (r.verb == RuleVerb::Reject && !r.monitor) return true;
  return false;
}

std::optional<std::string> check_reject_rules(const Config& c) {
  const uint32_t mark = c.egress.reject_mark;
  RejectRules found;
  bool read_any = false;
  if (auto nft = command_output("nft list ruleset")) {
    read_any = true;
    RejectRules n = parse_nft_reject_rules(*nft, mark);
    found.v4 |= n.v4;
    found.v6 |= n.v6;
  }
  if (auto ipt = command_output("iptables -w 2 -S")) {
    read_any = true;
    found.v4 |= parse_iptables_reject_rule(*ipt, mark);
  }
  if (auto ipt6 = command_output("ip6tables -w 2 -S")) {
    read_any = true;
    found.v6 |= parse_iptables_reject_rule(*ipt6, mark);
  }
  if (!read_any)
    return fmt::format(
        "could not read the ruleset (nft, iptables, ip6tables; needs root): cannot tell whether "
        "rejects (packet mark {:#x}) are carried out",
        mark);
  if (found.v4 && found.v6) return std::nullopt;
  const char* missing = !found.v4 && !found.v6 ? "IPv4 and IPv6" : !found.v4 ? "IPv4" : "IPv6";
  return fmt::format(
      "no rule rejects {} packets with the reject mark {:#x}: rejected flows are dropped instead "
      "(clients wait for a timeout rather than fail at once); load "
      "contrib/nftables/tripline-nft.sh "
      "or contrib/iptables/tripline-iptables.sh (TRIPLINE_REJECT_MARK = [egress] reject_mark), or "
      "set [egress] action = \"drop\"",
      missing, mark);
}

}  // namespace tripline
