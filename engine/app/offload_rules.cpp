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

// True when, in some chain of `iptables -S` text, the rules before an
// NFQUEUE rule bring that chain's state to `goal`: step(line, state) sees
// each rule ("-A ...") in order, with its chain's state (0 at first).
template <typename Step>
bool iptables_before_queue(std::string_view text, int goal, Step&& step) {
  std::map<std::string, int, std::less<>> state;  // chain -> what step() has seen in it
  bool found = false;
  each_line(text, [&](std::string_view line) {
    if (found || !line.starts_with("-A ")) return;
    std::string_view rest = line.substr(3);
    int& seen = state[std::string(rest.substr(0, rest.find(' ')))];
    if (line.find("-j NFQUEUE") != std::string_view::npos) {
      found = seen == goal;
      return;
    }
    step(line, seen);
  });
  return found;
}

// The same for `nft list ruleset` text: the state starts at 0 in each chain,
// and a "queue" statement ends the look in its chain.
template <typename Step>
bool nft_before_queue(std::string_view text, int goal, Step&& step) {
  int seen = 0;
  bool found = false;
  each_line(text, [&](std::string_view line) {
    if (found) return;
    if (line.find("chain ") != std::string_view::npos && line.ends_with("{")) seen = 0;
    if (line.find(" queue ") != std::string_view::npos ||
        line.find("\tqueue ") != std::string_view::npos) {
      found = seen == goal;
      return;
    }
    step(line, seen);
  });
  return found;
}

}  // namespace

std::vector<std::string> offload_rules_warnings(const OffloadConfig& cfg) {
  std::vector<std::string> out;
  if (!cfg.enabled) return out;
  const std::string nft = command_output("nft list ruleset").value_or("");
  const std::string ipt = command_output("iptables -w 2 -S").value_or("");
  if (!iptables_has_offload_accept(ipt, cfg.mark, cfg.mask) &&
      !nft_has_offload_accept(nft, cfg.mark, cfg.mask))
    out.push_back(fmt::format(
        "[offload] is on but no fast-path rule was found: no rule accepts connections with "
        "conntrack mark 0x{:x}/0x{:x} before the queue rule (contrib/iptables, "
        "contrib/nftables). Without it the kernel keeps queueing offloaded flows: tripline then "
        "counts them as offload_late_packets and nothing is saved",
        cfg.mark, cfg.mask));
  if (!iptables_has_offload_save(ipt, cfg.mark, cfg.mask) &&
      !nft_has_offload_save(nft, cfg.mark, cfg.mask))
    out.push_back(fmt::format(
        "[offload] is on but no offload save rule was found before the queue rule: nothing in "
        "the queue rule's chain copies packet mark 0x{0:x}/0x{1:x} to the conntrack mark and "
        "accepts the packet, which the offloading verdict sends back through that chain "
        "(iptables: `-m mark --mark 0x{0:x}/0x{1:x} -j CONNMARK --save-mark --nfmask 0x{1:x} "
        "--ctmask 0x{1:x}`, then `-m mark --mark 0x{0:x}/0x{1:x} -j ACCEPT`; nft: `meta mark & "
        "0x{1:08x} == 0x{0:08x} ct mark set ct mark & 0x{2:08x} | 0x{0:08x} accept`; "
        "contrib/iptables and contrib/nftables add them). Offload still works, later: through a "
        "save rule in postrouting (an older contrib/) once the packet has come back to the queue "
        "(counted in offload_returned), else through ctnetlink; packets queued meanwhile count "
        "as offload_late_packets",
        cfg.mark, cfg.mask, ~cfg.mask));
  return out;
}

bool iptables_has_offload_accept(std::string_view text, uint32_t mark, uint32_t mask) {
  const std::string match = fmt::format("-m connmark --mark 0x{:x}/0x{:x}", mark, mask);
  return iptables_before_queue(text, 1, [&](std::string_view line, int& seen) {
    if (line.find(match) != std::string_view::npos && line.ends_with("-j ACCEPT")) seen = 1;
  });
}

bool nft_has_offload_accept(std::string_view text, uint32_t mark, uint32_t mask) {
  // nft prints "ct mark & 0x30000000 == 0x10000000 accept" (older: "and"),
  // iptables-nft a counter before the verdict.
  const std::string amp = fmt::format("ct mark & 0x{:08x} == 0x{:08x} ", mask, mark);
  const std::string word = fmt::format("ct mark and 0x{:08x} == 0x{:08x} ", mask, mark);
  return nft_before_queue(text, 1, [&](std::string_view line, int& seen) {
    if ((line.find(amp) != std::string_view::npos || line.find(word) != std::string_view::npos) &&
        line.ends_with(" accept"))
      seen = 1;
  });
}

bool iptables_has_offload_save(std::string_view text, uint32_t mark, uint32_t mask) {
  const std::string match = fmt::format("-m mark --mark 0x{:x}/0x{:x} ", mark, mask);
  const std::string save =
      fmt::format("-j CONNMARK --save-mark --nfmask 0x{:x} --ctmask 0x{:x}", mask, mask);
  // 1: the save rule seen, 2: and then an accept of those packets.
  return iptables_before_queue(text, 2, [&](std::string_view line, int& seen) {
    if (line.find(match) == std::string_view::npos) return;
    if (line.find(save) != std::string_view::npos && seen == 0) seen = 1;
    if (line.ends_with("-j ACCEPT") && seen == 1) seen = 2;
  });
}

bool nft_has_offload_save(std::string_view text, uint32_t mark, uint32_t mask) {
  // nft prints the mask it was given ("meta mark & 0x30000000 == 0x10000000")
  // but may simplify the value set ("ct mark & 0xdfffffff | 0x10000000").
  const std::string amp = fmt::format("meta mark & 0x{:08x} == 0x{:08x} ", mask, mark);
  const std::string word = fmt::format("meta mark and 0x{:08x} == 0x{:08x} ", mask, mark);
  const std::string bar = fmt::format("| 0x{:08x}", mark);
  const std::string orw = fmt::format("or 0x{:08x}", mark);
  // 1: the save rule seen, 2: and an accept of those packets (the same rule in contrib/).
  return nft_before_queue(text, 2, [&](std::string_view line, int& seen) {
    if (line.find(amp) == std::string_view::npos && line.find(word) == std::string_view::npos)
      return;
    size_t set = line.find("ct mark set ");
    if (set != std::string_view::npos && seen == 0) {
      std::string_view value = line.substr(set);
      if (value.find(bar) != std::string_view::npos || value.find(orw) != std::string_view::npos)
        seen = 1;
    }
    if (line.ends_with(" accept") && seen == 1) seen = 2;
  });
}

}  // namespace tripline
