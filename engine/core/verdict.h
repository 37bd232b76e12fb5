// What the pipeline decides for one packet: a verdict, an optional packet mark,
// and a short reason that verdict and event output carry.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tripline {

enum class Verdict : uint8_t {
  Accept,  // let it pass
  Drop,    // silently discard
  // Discard and make the sender fail fast (TCP RST / ICMP unreachable). Live,
  // the packet is handed back (NF_REPEAT) carrying `mark`, and the contrib
  // rule set rejects packets with that mark before queueing them.
  Reject,
};

// "accept", "drop", "reject"
std::string_view to_string(Verdict v);
// A stable copy of a reason that configuration built ("rule:<name>", a list's
// label): valid until the process exits, so a flow's decision may keep it
// after a reload freed the configuration it came from. Takes a lock: for set
// up and rare paths, not for every packet; equal texts share one copy.
std::string_view intern_reason(std::string_view reason);
std::optional<Verdict> parse_verdict(std::string_view text);

struct Decision {
  Verdict verdict = Verdict::Accept;
  uint32_t mark = 0;  // packet mark to set with the verdict when has_mark
  bool has_mark = false;
  // This (accepted, unmarked) packet hands its flow to the kernel (offload,
  // engine/conntrack/README.md). Live, its verdict carries the packet's own
  // mark with the [offload] mask bits set to [offload] mark, which a rule in
  // a later hook saves to the connection's conntrack mark. Set by the worker
  // on the returned decision only, never on a flow's stored one.
  bool offload = false;
  // Why: "default", "decode-error", "fragment", "flow", ... Points at static or
  // configuration-owned storage that outlives every packet.
  std::string_view reason = "default";
  // When not empty, the packet is replaced by these bytes (a complete IP
  // packet, checksums valid), e.g. a rewritten DNS answer for a blocked name.
  // Points into the worker's buffer: valid until its next process() call.
  std::span<const uint8_t> replacement;

  bool same_verdict(const Decision& o) const {
    return verdict == o.verdict && has_mark == o.has_mark && mark == o.mark &&
           offload == o.offload && replacement.empty() && o.replacement.empty();
  }
};

}  // namespace tripline
