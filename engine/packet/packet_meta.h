// What the source knows about a packet besides its bytes: the interfaces it
// came in on and goes out of (NFQUEUE: NFQA_IFINDEX_INDEV / _OUTDEV; replay
// knows neither; 0 means "not known") and the link-layer address it came from
// (NFQUEUE: NFQA_HWADDR; replay: the Ethernet source).
#pragma once

#include <cstdint>

#include "client_id.h"

namespace tripline {

struct PacketMeta {
  uint32_t in_ifindex = 0;   // interface the packet arrived on (0: unknown)
  uint32_t out_ifindex = 0;  // interface it leaves by (0: unknown, e.g. before routing)
  MacAddr src_mac{};         // the sender's link-layer address (all zeros: unknown)
};

// Nothing known (replay, tests): a shared object, so callers need not build one.
inline constexpr PacketMeta kNoPacketMeta{};

}  // namespace tripline
