// A connection as conntrack names it (its original-direction tuple) and what
// conntrack reports when one ends: the plain facts the rest of tripline sees,
// free of any netlink type. TCP and UDP only (the protocols tripline offloads).
#pragma once

#include <absl/hash/hash.h>

#include <cstdint>

#include "ip_address.h"
#include "timestamp.h"

namespace tripline {

struct CtTuple {
  IpAddr src, dst;  // original direction
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;  // 6 or 17
  friend bool operator==(const CtTuple&, const CtTuple&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const CtTuple& t) {
    return H::combine(std::move(h), t.src, t.dst, t.sport, t.dport, t.proto);
  }
  CtTuple reversed() const { return {dst, src, dport, sport, proto}; }
  // The same connection whichever side is named first: the lower (address,
  // port) first. Both directions of one connection have the same canonical().
  CtTuple canonical() const;
};

// How conntrack's entry ended, as tripline reports it.
enum class CtEndKind : uint8_t {
  Fin,      // TCP closed with FINs (TIME_WAIT, LAST_ACK, CLOSE_WAIT, FIN_WAIT)
  Rst,      // TCP reset (CLOSE)
  Timeout,  // expired (UDP, idle TCP) or removed
  // Not an end: the kernel refused the offload (the entry is gone, or no
  // permission). The flow goes on in the engine as before.
  Refused,
};

// One conntrack destroy event (or a refused offload), for the worker that
// owns the flow.
struct CtEnd {
  CtTuple tuple;  // conntrack's original direction
  CtEndKind kind = CtEndKind::Timeout;
  bool has_counters = false;  // nf_conntrack_acct was on when the entry was made
  uint64_t pkts[2] = {0, 0};  // [0] original direction, [1] reply
  uint64_t bytes[2] = {0, 0};
  Timestamp start = 0, stop = 0;  // nf_conntrack_timestamp; 0 = not known
  uint32_t mark = 0;
};

}  // namespace tripline
