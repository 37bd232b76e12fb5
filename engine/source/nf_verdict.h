// What the kernel is told for one queued packet: the NF_* verdict code and the
// packet mark that a Decision turns into, and how it joins the verdict
// batcher. Pure (no netlink), so tests state the mark arithmetic and the
// batching directly; nfqueue_source only builds and sends the messages.
#pragma once

#include <cstdint>

#include "config.h"
#include "verdict.h"
#include "verdict_batcher.h"

namespace tripline {

// The packet mark an offloading verdict sets: the packet's own mark
// (NFQA_MARK, 0 when it had none) with the [offload] mask bits replaced by
// [offload] mark, so other users of the packet mark keep their bits (a verdict
// mark replaces the whole mark, there is no mask in a verdict).
constexpr uint32_t offload_packet_mark(uint32_t packet_mark, const OffloadConfig& cfg) {
  return (packet_mark & ~cfg.mask) | (cfg.mark & cfg.mask);
}

// How an offloading verdict hands its packet back, carrying the offload mark:
//   Repeat: through the queue's chain again (NF_REPEAT), where the save rule
//     before the queue rule copies the mark to the connection and accepts the
//     packet (contrib/). The connection's later packets then meet the
//     fast-path rule in that one chain: no other hook is involved.
//   Accept: on to the next hooks (NF_ACCEPT), where a save rule in postrouting
//     copies the mark (the rulesets contrib/ wrote before the save rule moved
//     into the queue's chain). The live source falls back to it when a
//     repeated packet comes back to the queue.
enum class OffloadVerdict : uint8_t { Repeat, Accept };

// Accept -> NF_ACCEPT (with the decision's mark, if any); Decision::offload:
// offload_packet_mark() with NF_REPEAT or NF_ACCEPT (`how`); Drop -> NF_DROP;
// Reject -> NF_REPEAT with the reject mark (the ruleset's mark rule rejects
// it), or NF_DROP without one (a repeat would only queue it again).
// `packet_mark` is the packet's mark as queued.
NfVerdict to_nf_verdict(const Decision& d, uint32_t packet_mark, const OffloadConfig& offload,
                        OffloadVerdict how = OffloadVerdict::Repeat);

// Gives packet `id` its verdict through `batcher`, as the live source does: an
// offloading verdict (Decision::offload) goes alone (add_single: a batch
// would set its mark on every packet it covers, also ones the kernel queued
// but could not deliver), a replaced packet with its bytes, any other joins
// the open run. Returns true for an offloading verdict: the caller then sends
// it, and all before it, at once.
bool add_verdict(VerdictBatcher& batcher, uint32_t id, const Decision& d, uint32_t packet_mark,
                 const OffloadConfig& offload, OffloadVerdict how = OffloadVerdict::Repeat);

// True when a queued packet's mark carries the offload bits (`packet_mark` &
// mask == mark): an offloading verdict's packet that came back to the queue,
// because nothing before the queue rule saved its mark and accepted it.
constexpr bool is_returned_offload(uint32_t packet_mark, const OffloadConfig& cfg) {
  return cfg.enabled && (packet_mark & cfg.mask) == (cfg.mark & cfg.mask);
}

}  // namespace tripline
