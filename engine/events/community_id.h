// The Community ID flow hash, version 1 (corelight/community-id-spec), as
// Zeek, Suricata and Arkime write it: "1:" + base64(SHA-1(seed, ordered
// addresses, proto, ports)). The same value for both directions of a flow, so
// tripline's events join other tools' records.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ip_address.h"

namespace tripline {

// "1:" + 28 base64 characters.
inline constexpr size_t kCommunityIdLen = 30;

// Writes the id of the flow src:sport -> dst:dport over IP protocol `proto`
// into out (at least kCommunityIdLen bytes, not terminated); returns its
// length, or 0 when the addresses are not of one family. For ICMP and
// ICMPv6, sport and dport are the message's type and code. Allocates nothing.
size_t community_id_v1(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
                       uint8_t proto, char* out, uint16_t seed = 0);

}  // namespace tripline
