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
// (`recorded`), not yet offloaded or refused, not closed; and it has seen
// after_packets packets each way (a drop: from the client; a dropped flow's
// server never answers).
bool should_offload(const Flow& flow, const OffloadConfig& cfg, bool recorded);

}  // namespace tripline
