// A deterministic traffic generator for benchmarks and tests: a population of
// inside clients resolving names through a resolver (A/AAAA, CNAME chains,
// NXDOMAIN/NODATA), then opening TCP and UDP flows to the answers; plus flows
// to literal addresses no answer contained, ICMP echo, IP fragments and
// malformed packets; many sessions interleaved. The same options give the same
// bytes and timestamps on every machine.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "timestamp.h"

namespace tripline::gen {

// Bumped whenever the same options start giving different bytes, so cached
// benchmark pcaps are regenerated.
constexpr int kGeneratorVersion = 1;

enum class LinkKind : uint8_t { Raw, Ethernet };  // DLT_RAW or DLT_EN10MB

// Relative weights of the session kinds a new session is drawn from.
struct SessionMix {
  uint32_t resolve_tcp = 50;  // resolve a name, then 1-4 TCP connections to its addresses
  uint32_t resolve_udp = 10;  // resolve, then a UDP exchange (QUIC-like 443, NTP 123)
  uint32_t cached_tcp = 10;   // TCP to an address this client was answered earlier
  uint32_t dns_only = 6;      // a lookup nobody connects after
  uint32_t literal_tcp = 6;   // TCP to an address no DNS answer ever contained
  uint32_t literal_udp = 5;   // UDP to such an address (some never answered)
  uint32_t icmp_echo = 5;     // ping (resolved or literal address)
  uint32_t fragments = 4;     // a large UDP datagram sent as IP fragments
  uint32_t malformed = 4;     // one packet built to fail decoding
};

struct GenOptions {
  uint64_t packets = 100'000;  // exactly this many are written
  uint64_t seed = 1;
  LinkKind link = LinkKind::Raw;
  Timestamp start = 1'767'225'600 * kNsPerSec;  // 2026-01-01T00:00:00Z
  uint64_t rate = 50'000;                       // mean packets per second of the timestamps
  uint32_t concurrency = 200;                   // sessions in progress at once, interleaved
  uint32_t clients = 500;                       // 10.0.x.y; every fourth is dual-stack (fd00::c:n)
  uint32_t names = 5'000;                       // distinct resolvable names (Zipf popularity)
  SessionMix mix;
};

// What was written. Counted as packets are emitted, so a session cut off by
// the packet limit counts only what made it into the output.
struct GenStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;  // sum of frame lengths
  uint64_t ipv4_packets = 0;
  uint64_t ipv6_packets = 0;
  uint64_t dns_queries = 0;
  uint64_t dns_responses = 0;
  uint64_t dns_with_addresses = 0;  // responses carrying A/AAAA records
  uint64_t dns_cname = 0;           // responses with a CNAME chain
  uint64_t dns_nxdomain = 0;
  uint64_t dns_nodata = 0;  // NOERROR, no record of the asked type
  uint64_t tcp_flows = 0;   // first packets (SYN) emitted
  uint64_t udp_flows = 0;
  uint64_t icmp_flows = 0;  // echo sessions
  // Every flow is one of these three. Resolved: to an address a DNS answer
  // earlier in the file gave to the very address that now connects. Cross
  // family: the answer went to the same dual-stack client's other address
  // (asked over IPv6, connects over IPv4 or the other way round).
  uint64_t resolved_flows = 0;
  uint64_t resolved_cross_family_flows = 0;
  uint64_t unresolved_flows = 0;  // to a literal address no answer contained
  uint64_t tcp_fin = 0;           // connections closed by FIN both ways
  uint64_t tcp_rst = 0;           // connections ended (or refused) by RST
  uint64_t tcp_unanswered = 0;    // SYNs that never got a reply
  uint64_t fragments = 0;         // IP fragment packets
  uint64_t malformed = 0;         // packets built to fail decoding
  Timestamp first_ts = 0;
  Timestamp last_ts = 0;

  // "packets=... bytes=... ..." on one line, for logs and the CLI.
  std::string summary() const;
};

// Receives each generated frame (link layer per GenOptions::link). The bytes
// are valid only during the call.
using PacketSink = std::function<void(Timestamp ts, std::span<const uint8_t> frame)>;

// Generates opts.packets frames in timestamp order.
GenStats generate(const GenOptions& opts, const PacketSink& sink);

// Writes them to a pcap file (nanosecond timestamps, snaplen 65535).
// Throws std::runtime_error when the file cannot be written.
GenStats generate_pcap(const GenOptions& opts, const std::string& path);

}  // namespace tripline::gen
