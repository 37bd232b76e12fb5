#include "offload_rule.h"

namespace tripline {

bool should_offload(const Flow& flow, const OffloadConfig& cfg, bool recorded) {
  if (flow.offload != FlowOffload::None || !flow.decided || flow.end_reported) return false;
  if (flow.proto() != 6 && flow.proto() != 17) return false;
  if (flow.state == FlowState::Closed || flow.watch != 0 || recorded) return false;
  if (flow.key.lo_port == 53 || flow.key.hi_port == 53) return false;
  const Decision& d = flow.decision;
  if (d.has_mark || !d.replacement.empty()) return false;
  switch (d.verdict) {
    case Verdict::Accept:
      return flow.pkts[kToServer] >= cfg.after_packets && flow.pkts[kToClient] >= cfg.after_packets;
    case Verdict::Drop:
      return flow.pkts[kToServer] >= cfg.after_packets;
    case Verdict::Reject:  // carried out by a marked rule on every packet
      return false;
  }
  return false;
}

}  // namespace tripline
