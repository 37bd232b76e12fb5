// When a flow may leave user space (offload, engine/conntrack/README.md): it
// is decided and nothing needs its later packets. Pure, so tests state the
// rule directly.
#pragma once

#include "config.h"
#include "flow_table.h"

namespace tripline {

// True when `flow` should be handed to the kernel now: TCP or UDP, decided
// (accept or drop, no packet mark, no rewrite), no trigger watching its
// packets, not DNS (port 53: answers must be seen), not being recorded
// (`recorded`), not yet offloaded or refused, not closed, not closing (a TCP
// FIN seen: its last packets cost less here) unless it has carried
// kClosingOffloadPackets (a half-closed transfer); and it has seen
// after_packets packets each way (a drop: from the client; a dropped flow's
// server never answers).
bool should_offload(const Flow& flow, const OffloadConfig& cfg, bool recorded);
inline constexpr uint64_t kClosingOffloadPackets = 64;

// Packets of a flow offloaded by its verdict that still reach the queue (they
// were queued before that verdict) get the offload mark again in their own
// verdicts, this many; the next one has ctnetlink mark the connection (no
// save rule copied the mark).
inline constexpr uint8_t kOffloadRemarks = 4;

// True when the verdict `d` of the packet that just offloaded `flow` may hand
// the flow to the kernel itself (Decision::offload: the packet goes back
// through the queue's chain with the offload mark, and the save rule there
// copies it to the connection): the flow is accepted and this packet too,
// with no mark or rewrite of its own (a packet mark in the verdict replaces
// the packet's whole mark). Also on a flow's first packet (after_packets = 0):
// the save rule marks the connection before the kernel confirms it. Drops
// never: a dropped packet reaches no rule.
bool offload_in_verdict(const Flow& flow, const Decision& d);

}  // namespace tripline
