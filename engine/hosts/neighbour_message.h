// The rtnetlink neighbour messages (RTM_NEWNEIGH / RTM_DELNEIGH, from a dump
// or an event) as the host table needs them: which address is, or no longer
// is, a neighbour at which link-layer address. Pure: bytes in, value out.
#pragma once

#include <cstdint>
#include <span>

#include "client_id.h"
#include "ip_address.h"

namespace tripline {

struct NeighbourUpdate {
  enum class Op : uint8_t {
    Ignore,  // not a neighbour message, malformed, or nothing to learn (proxy, multicast)
    Set,     // addr is a neighbour at mac on ifindex
    Remove,  // addr is no longer usable (deleted, failed, incomplete)
  };
  Op op = Op::Ignore;
  uint32_t ifindex = 0;
  IpAddr addr;
  MacAddr mac;
};

// Parses one netlink message, header included: the message's own length
// (nlmsg_len) must fit in `msg`. Never reads outside `msg`.
NeighbourUpdate parse_neighbour_message(std::span<const uint8_t> msg);

}  // namespace tripline
