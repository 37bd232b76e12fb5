#include "offload_rule.h"

namespace tripline {

bool should_offload(const Flow& flow, const OffloadConfig& cfg, bool recorded) {
  if (flow.offload != FlowOffload::None || !flow.decided) return false;
  // A flow its own drop verdict ended (its flow event is written at once,
  // end reason "dropped") still goes to the kernel: its later packets are
  // dropped there. Other ended or closed flows need nothing more.
  const bool ended_by_drop = flow.ended_blocked && flow.decision.verdict == Verdict::Drop;
  if (flow.end_reported && !ended_by_drop) return false;
  if (flow.proto() != 6 && flow.proto() != 17) return false;
  // A TCP flow that sent a FIN is ending: its few last packets cost less
  // judged here than a marked verdict, a destroy-event registration and,
  // for packets already queued, a ctnetlink update (short connections).
  // One that goes on carrying data half-closed (a request sent with its FIN,
  // then a long answer) is offloaded once it has shown it.
  if (flow.state == FlowState::Closing &&
      flow.pkts[kToServer] + flow.pkts[kToClient] < kClosingOffloadPackets)
    return false;
  if ((flow.state == FlowState::Closed && !ended_by_drop) || flow.watch != 0 || recorded)
    return false;
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

bool offload_in_verdict(const Flow& flow, const Decision& d) {
  return flow.decision.verdict == Verdict::Accept && d.verdict == Verdict::Accept && !d.has_mark &&
         d.replacement.empty();
}

}  // namespace tripline
