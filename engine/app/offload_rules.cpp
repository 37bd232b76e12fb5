#include "offload_rules.h"

#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <string>

#include "command_output.h"

namespace tripline {
namespace {

// Calls fn(line) for each line.
template <typename Fn>
void each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

std::string offload_rules_warning(const OffloadConfig& cfg) {
  if (!cfg.enabled) return {};
  if (iptables_has_offload_accept(command_output("iptables -w 2 -S").value_or(""), cfg.mark,
                                  cfg.mask) ||
      nft_has_offload_accept(command_output("nft list ruleset").value_or(""), cfg.mark, cfg.mask))
    return {};
  return fmt::format(
      "[offload] is on but no fast-path rule was found: no rule accepts connections with "
      "conntrack mark 0x{:x}/0x{:x} before the queue rule (contrib/iptables, contrib/nftables). "
      "Without it the kernel keeps queueing offloaded flows: tripline then counts them as "
      "offload_late_packets and nothing is saved",
      cfg.mark, cfg.mask);
}

bool iptables_has_offload_accept(std::string_view text, uint32_t mark, uint32_t mask) {
  const std::string match = fmt::format("-m connmark --mark 0x{:x}/0x{:x}", mark, mask);
  std::map<std::string, bool, std::less<>> accepted;  // chain -> fast path seen so far
  bool found = false;
  each_line(text, [&](std::string_view line) {
    if (found || !line.starts_with("-A ")) return;
    std::string_view rest = line.substr(3);
    std::string chain(rest.substr(0, rest.find(' ')));
    if (line.find(match) != std::string_view::npos && line.ends_with("-j ACCEPT"))
      accepted[chain] = true;
    if (line.find("-j NFQUEUE") != std::string_view::npos && accepted[chain]) found = true;
  });
  return found;
}

bool nft_has_offload_accept(std::string_view text, uint32_t mark, uint32_t mask) {
  // nft prints "ct mark & 0x30000000 == 0x10000000 accept" (older: "and"),
  // iptables-nft a counter before the verdict.
  const std::string amp = fmt::format("ct mark & 0x{:08x} == 0x{:08x} ", mask, mark);
  const std::string word = fmt::format("ct mark and 0x{:08x} == 0x{:08x} ", mask, mark);
  bool in_fast_path = false, found = false;
  each_line(text, [&](std::string_view line) {
    if (found) return;
    if (line.find("chain ") != std::string_view::npos && line.ends_with("{")) in_fast_path = false;
    if ((line.find(amp) != std::string_view::npos || line.find(word) != std::string_view::npos) &&
        line.ends_with(" accept"))
      in_fast_path = true;
    if (line.find(" queue ") != std::string_view::npos ||
        line.find("\tqueue ") != std::string_view::npos)
      found = in_fast_path;
  });
  return found;
}

}  // namespace tripline
