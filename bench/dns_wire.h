// Builds DNS messages in wire format for the traffic generator: queries and
// responses (A/AAAA, CNAME chains, NXDOMAIN/NODATA with an SOA, optional EDNS
// OPT), with name compression as resolvers send them. Written by hand because
// building through ldns's text parser costs microseconds per record.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ip_address.h"

namespace tripline::gen {

using Bytes = std::vector<uint8_t>;

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kTypeOpt = 41;
constexpr uint8_t kRcodeNoError = 0;
constexpr uint8_t kRcodeNxDomain = 3;

// A recursive query (RD set) for one name ("www.example.com", no trailing dot).
Bytes dns_query(uint16_t id, std::string_view qname, uint16_t qtype, bool edns);

struct DnsResponseSpec {
  uint16_t id = 0;
  std::string_view qname;
  uint16_t qtype = kTypeA;
  uint8_t rcode = kRcodeNoError;
  // qname CNAME chain[0] CNAME chain[1] ...; the addresses belong to the last.
  std::span<const std::string> cname_chain;
  std::span<const IpAddr> addrs;  // of qtype's family
  uint32_t ttl = 300;
  bool soa = false;   // an SOA in the authority section (NXDOMAIN, NODATA)
  bool edns = false;  // an OPT record in the additional section
};

// A response from a recursive resolver (QR, RD, RA set) echoing the question.
Bytes dns_response(const DnsResponseSpec& spec);

}  // namespace tripline::gen
