// What the source knows about a packet besides its bytes: the interfaces it
// came in on and goes out of (NFQUEUE: NFQA_IFINDEX_INDEV / _OUTDEV). Replay
// knows neither; 0 means "not known".
#pragma once

#include <cstdint>

namespace tripline {

struct PacketMeta {
  uint32_t in_ifindex = 0;   // interface the packet arrived on (0: unknown)
  uint32_t out_ifindex = 0;  // interface it leaves by (0: unknown, e.g. before routing)
};

// Nothing known (replay, tests): a shared object, so callers need not build one.
inline constexpr PacketMeta kNoPacketMeta{};

}  // namespace tripline
