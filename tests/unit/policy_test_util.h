// Helpers shared by the policy tests: addresses from text and a flow built
// from its first packet's endpoints, without a flow table.
#pragma once

#include <cstdint>

#include "flow_table.h"
#include "ip_address.h"

namespace tripline::policy_test {

inline IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// A flow whose original direction is src:sport -> dst:dport (id 1).
inline Flow make_flow(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                      uint8_t proto) {
  Flow f;
  f.key.lo = ip(src);
  f.key.hi = ip(dst);
  f.key.lo_port = sport;
  f.key.hi_port = dport;
  f.key.proto = proto;
  f.orig_is_lo = true;
  f.id = 1;
  return f;
}

}  // namespace tripline::policy_test
