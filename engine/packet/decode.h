// Packet decoding: link layer (raw IP as NFQUEUE delivers it; Ethernet with
// VLAN tags, Linux cooked SLL/SLL2, BSD loopback in pcaps), IPv4/IPv6 with
// extension headers and fragments, and TCP/UDP/ICMP/ICMPv6 headers.
// Pure function over borrowed bytes: no allocation, never reads out of bounds.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "ip_address.h"

namespace tripline {

enum class LinkType : uint8_t {
  Raw,        // starts at the IP header (NFQUEUE, DLT_RAW, LINKTYPE_IPV4/IPV6)
  Ethernet,   // DLT_EN10MB, 802.1Q / 802.1ad tags skipped
  LinuxSll,   // DLT_LINUX_SLL
  LinuxSll2,  // DLT_LINUX_SLL2
  Null,       // DLT_NULL / DLT_LOOP: 4-byte address family (either byte order)
};

// Maps a libpcap DLT_* value to a LinkType; nullopt when unsupported.
std::optional<LinkType> link_type_from_dlt(int dlt);

// Why a packet could not be decoded. Counted per reason; such packets get the
// default verdict. NotIp is not malformed (ARP in an Ethernet capture), but
// it is not judged either.
enum class DecodeError : uint8_t {
  None = 0,
  LinkTruncated,
  LinkUnsupported,  // unknown link type or ethertype that is not IP
  NotIp,
  Ipv4Truncated,
  Ipv4BadHeaderLength,
  Ipv4BadTotalLength,
  Ipv6Truncated,
  Ipv6ExtTruncated,  // an extension header runs past the packet
  BadIpVersion,
  TcpTruncated,
  TcpBadHeaderLength,
  UdpTruncated,
  UdpBadLength,
  IcmpTruncated,
  kCount,
};
// Stable snake_case names for counters and logs: "ipv4_truncated", ...
const char* to_string(DecodeError e);

struct Decoded {
  IpAddr src;
  IpAddr dst;
  uint8_t ip_version = 0;  // 4 or 6
  uint8_t proto = 0;       // IPPROTO_* of the upper layer (after v6 extension headers)
  uint8_t ttl = 0;         // IPv4 TTL or IPv6 hop limit
  uint16_t sport = 0;      // TCP/UDP ports; for ICMP/ICMPv6 sport = type, dport = code
  uint16_t dport = 0;
  uint8_t tcp_flags = 0;  // TH_FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;

  // Fragments: is_fragment when the IP packet is any fragment (MF set or offset
  // != 0). Only the first fragment (offset 0) carries an upper-layer header, so
  // for a non-first fragment has_ports is false and sport/dport are 0, l4 is
  // empty and payload holds the fragment's piece of the upper-layer message.
  bool is_fragment = false;
  bool has_ports = false;    // the upper-layer header was present and decoded
  uint16_t frag_offset = 0;  // in bytes
  bool more_fragments = false;
  uint32_t frag_id = 0;  // IPv4 identification or IPv6 fragment header id
  // A fragment's bytes of the fragmented part (they belong at frag_offset of
  // the reassembled datagram): after the IPv4 header or the IPv6 Fragment header.
  std::span<const uint8_t> frag_data;

  std::span<const uint8_t> ip;       // from the IP header to the end of the IP packet
  std::span<const uint8_t> l4;       // from the upper-layer header to the end (empty if none)
  std::span<const uint8_t> payload;  // upper-layer payload (TCP/UDP data, ICMP body)
  uint32_t ip_len = 0;               // IP packet length as counted for byte counters
};

// Decodes one packet. On success returns DecodeError::None and fills out.
// Trailing link-layer padding beyond the IP total length is ignored. A packet
// truncated by the capture length (snaplen) inside the payload still decodes:
// spans end where the captured bytes end.
DecodeError decode(LinkType link, std::span<const uint8_t> bytes, Decoded& out);

}  // namespace tripline
