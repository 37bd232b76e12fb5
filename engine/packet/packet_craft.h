// Builds well-formed raw IP packets (IPv4/IPv6 with TCP, UDP, ICMP/ICMPv6),
// checksums included, plus fragmenting and link-layer framing. Used to craft
// rejects (TCP RST, ICMP unreachable), by the traffic generator, and by tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ip_address.h"

namespace tripline::craft {

using Bytes = std::vector<uint8_t>;

struct IpOptions {
  uint8_t ttl = 64;      // TTL / hop limit
  uint16_t ipv4_id = 0;  // IPv4 identification
};

// An IP packet around an already built upper-layer segment. src and dst must
// have the same family. The caller fills the L4 checksum (see below).
Bytes ip_packet(const IpAddr& src, const IpAddr& dst, uint8_t proto, std::span<const uint8_t> l4,
                const IpOptions& opt = {});

Bytes udp(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
          std::span<const uint8_t> payload, const IpOptions& opt = {});

// flags: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10.
Bytes tcp(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport, uint8_t flags,
          uint32_t seq, uint32_t ack, std::span<const uint8_t> payload, const IpOptions& opt = {});

// ICMP (v4) or ICMPv6 (v6) message with type/code and a body after the 4-byte
// type/code/checksum header (for echo: 2-byte id, 2-byte seq, data).
Bytes icmp(const IpAddr& src, const IpAddr& dst, uint8_t type, uint8_t code,
           std::span<const uint8_t> body, const IpOptions& opt = {});

// Splits an IP packet into fragments whose IP payload is at most `mtu_payload`
// bytes (rounded down to a multiple of 8). IPv4 uses the header's flags and
// the given id; IPv6 inserts a Fragment extension header carrying id. A packet
// that already fits comes back unchanged; empty when the packet is malformed or
// mtu_payload leaves no room for 8 bytes of data.
std::vector<Bytes> fragment(std::span<const uint8_t> ip_packet, size_t mtu_payload, uint32_t id);

// Link-layer framing for pcaps. vlan_tags are TCIs, outermost first; outer tags
// get the 802.1ad TPID (0x88a8), the innermost 802.1Q (0x8100).
Bytes ethernet(std::span<const uint8_t> ip_packet, std::span<const uint16_t> vlan_tags = {});
Bytes linux_sll(std::span<const uint8_t> ip_packet);
Bytes linux_sll2(std::span<const uint8_t> ip_packet);
// Host-order address family word: 2 for IPv4, 24 for IPv6 (as OpenBSD/NetBSD write).
Bytes bsd_null(std::span<const uint8_t> ip_packet);

// Internet checksum helpers.
uint16_t inet_checksum(std::span<const uint8_t> data, uint32_t initial = 0);
// Recomputes the TCP/UDP/ICMP/ICMPv6 checksum (and the IPv4 header checksum)
// of a complete, unfragmented IP packet in place; false if it cannot.
bool fix_checksums(std::span<uint8_t> ip_packet);

}  // namespace tripline::craft
