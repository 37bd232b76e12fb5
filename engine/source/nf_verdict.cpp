#include "nf_verdict.h"

#include <linux/netfilter.h>

namespace tripline {
namespace {

// The worker sets `offload` only on a plain accept; a mark or a rewrite of
// the decision's own would win (a verdict mark replaces the whole mark).
bool offloads(const Decision& d) {
  return d.offload && d.verdict == Verdict::Accept && !d.has_mark && d.replacement.empty();
}

}  // namespace

NfVerdict to_nf_verdict(const Decision& d, uint32_t packet_mark, const OffloadConfig& offload,
                        OffloadVerdict how) {
  NfVerdict v;
  v.has_mark = d.has_mark;
  v.mark = d.has_mark ? d.mark : 0;  // no stale mark: equal verdicts batch
  switch (d.verdict) {
    case Verdict::Accept:
      v.verdict = NF_ACCEPT;
      if (offloads(d)) {
        v.has_mark = true;
        v.mark = offload_packet_mark(packet_mark, offload);
        if (how == OffloadVerdict::Repeat) v.verdict = NF_REPEAT;
      }
      break;
    case Verdict::Drop:
      v.verdict = NF_DROP;
      break;
    case Verdict::Reject:
      // The packet goes back through the same hook carrying the reject mark, and
      // the ruleset's mark rule (contrib/) rejects it there. Without a mark a
      // repeat would only queue it again, so it is dropped.
      v.verdict = d.has_mark ? NF_REPEAT : NF_DROP;
      break;
  }
  return v;
}

bool add_verdict(VerdictBatcher& batcher, uint32_t id, const Decision& d, uint32_t packet_mark,
                 const OffloadConfig& offload, OffloadVerdict how) {
  const NfVerdict v = to_nf_verdict(d, packet_mark, offload, how);
  if (offloads(d)) {
    batcher.add_single(id, v);
    return true;
  }
  if (d.replacement.empty())
    batcher.add(id, v);
  else
    batcher.add_replaced(id, v, d.replacement);
  return false;
}

}  // namespace tripline
