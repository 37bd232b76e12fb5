#include "dns_wire.h"

#include <cstdlib>

namespace tripline::gen {
namespace {

constexpr uint16_t kClassIn = 1;
constexpr size_t kHeaderSize = 12;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

void set16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// Writes a name uncompressed and returns the offset it starts at. Our names are
// generated, so an over-long label is a bug in the generator: abort loudly.
size_t put_name(Bytes& b, std::string_view name) {
  size_t start = b.size();
  if (name.size() > 253) std::abort();
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) std::abort();
    b.push_back(static_cast<uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  b.push_back(0);
  return start;
}

void put_pointer(Bytes& b, size_t offset) { put16(b, static_cast<uint16_t>(0xc000 | offset)); }

void put_header(Bytes& b, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                uint16_t ar) {
  put16(b, id);
  put16(b, flags);
  put16(b, qd);
  put16(b, an);
  put16(b, ns);
  put16(b, ar);
}

void put_opt(Bytes& b) {
  b.push_back(0);  // root name
  put16(b, kTypeOpt);
  put16(b, 1232);  // UDP payload size
  put32(b, 0);     // extended rcode, version, flags
  put16(b, 0);     // no options
}

// Owner, type, class, TTL; returns the offset of RDLENGTH to patch.
size_t put_rr_head(Bytes& b, size_t owner, uint16_t type, uint32_t ttl) {
  put_pointer(b, owner);
  put16(b, type);
  put16(b, kClassIn);
  put32(b, ttl);
  size_t rdlen_at = b.size();
  put16(b, 0);
  return rdlen_at;
}

void end_rr(Bytes& b, size_t rdlen_at) {
  set16(b, rdlen_at, static_cast<uint16_t>(b.size() - rdlen_at - 2));
}

}  // namespace

Bytes dns_query(uint16_t id, std::string_view qname, uint16_t qtype, bool edns) {
  Bytes b;
  b.reserve(kHeaderSize + qname.size() + 2 + 4 + 11);
  put_header(b, id, 0x0100, 1, 0, 0, edns ? 1 : 0);
  put_name(b, qname);
  put16(b, qtype);
  put16(b, kClassIn);
  if (edns) put_opt(b);
  return b;
}

Bytes dns_response(const DnsResponseSpec& s) {
  Bytes b;
  b.reserve(512);
  uint16_t an = static_cast<uint16_t>(s.cname_chain.size() + s.addrs.size());
  uint16_t flags = static_cast<uint16_t>(0x8180 | (s.rcode & 0x0f));
  put_header(b, s.id, flags, 1, an, s.soa ? 1 : 0, s.edns ? 1 : 0);
  size_t owner = put_name(b, s.qname);
  put16(b, s.qtype);
  put16(b, kClassIn);

  // Each CNAME's target is written once, in its RDATA; the next record points
  // at it.
  std::string_view last = s.qname;
  for (const std::string& target : s.cname_chain) {
    size_t rdlen_at = put_rr_head(b, owner, kTypeCname, s.ttl);
    owner = put_name(b, target);
    end_rr(b, rdlen_at);
    last = target;
  }
  for (const IpAddr& a : s.addrs) {
    size_t rdlen_at = put_rr_head(b, owner, a.is_v4() ? kTypeA : kTypeAaaa, s.ttl);
    b.insert(b.end(), a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()));
    end_rr(b, rdlen_at);
  }
  if (s.soa) {
    // The zone is the last name minus its first label (at least two labels).
    size_t first_label = last.find('.');
    size_t zone = first_label == std::string_view::npos ? owner : owner + 1 + first_label;
    size_t rdlen_at = put_rr_head(b, zone, kTypeSoa, s.ttl);
    put_name(b, "ns1.dns-provider.net");
    put_name(b, "hostmaster.dns-provider.net");
    put32(b, 2026010101);  // serial
    put32(b, 7200);        // refresh
    put32(b, 900);         // retry
    put32(b, 1209600);     // expire
    put32(b, 300);         // minimum (negative TTL)
    end_rr(b, rdlen_at);
  }
  if (s.edns) put_opt(b);
  return b;
}

}  // namespace tripline::gen
