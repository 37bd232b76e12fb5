#include "packet_craft.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tripline::craft {
namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpV6 = 58;

constexpr size_t kIpv4HeaderLen = 20;
constexpr size_t kIpv6HeaderLen = 40;
constexpr size_t kTcpHeaderLen = 20;
constexpr size_t kUdpHeaderLen = 8;
constexpr size_t kIcmpHeaderLen = 4;
constexpr size_t kIpv6FragHeaderLen = 8;

// Address families as BSD loopback pcaps write them (OpenBSD/NetBSD value for
// AF_INET6; decode also accepts the other platforms' values).
constexpr uint32_t kBsdAfInet = 2;
constexpr uint32_t kBsdAfInet6 = 24;

// Addresses for link-layer framing: locally administered, stable.
constexpr uint8_t kDstMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
constexpr uint8_t kSrcMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "packet_craft: %s\n", what);
  std::abort();
}

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
void push16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

uint16_t ethertype_of(std::span<const uint8_t> ip) {
  return !ip.empty() && (ip[0] >> 4) == 6 ? kEtherIpv6 : kEtherIpv4;
}

// One's-complement sum of 16-bit big-endian words, not folded.
uint64_t sum_words(std::span<const uint8_t> data) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += get16(&data[i]);
  if (i < data.size()) sum += static_cast<uint64_t>(data[i]) << 8;
  return sum;
}

uint32_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}

// Partial sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 768, RFC 8200 8.1).
uint32_t pseudo_header_sum(std::span<const uint8_t> src, std::span<const uint8_t> dst,
                           uint8_t proto, size_t l4_len) {
  uint64_t sum = sum_words(src) + sum_words(dst) + proto;
  sum += (l4_len >> 16) + (l4_len & 0xffff);
  return fold(sum);
}

bool is_v6_ext(uint8_t nh) { return nh == 0 || nh == 43 || nh == 60 || nh == 51; }

// Length of the extension header at p (AH counts in 4-byte units).
size_t ext_len(uint8_t nh, const uint8_t* p) {
  return nh == 51 ? (static_cast<size_t>(p[1]) + 2) * 4 : (static_cast<size_t>(p[1]) + 1) * 8;
}

// Writes the checksum of the upper-layer message `l4` (proto) at its place.
bool fix_l4(uint8_t proto, std::span<uint8_t> l4, uint32_t pseudo, bool v6) {
  size_t at;
  switch (proto) {
    case kProtoTcp:
      if (l4.size() < kTcpHeaderLen) return false;
      at = 16;
      break;
    case kProtoUdp:
      if (l4.size() < kUdpHeaderLen) return false;
      at = 6;
      break;
    case kProtoIcmp:
      if (v6) return true;  // not a protocol of IPv6: nothing we know to fix
      if (l4.size() < kIcmpHeaderLen) return false;
      at = 2;
      pseudo = 0;  // ICMPv4 has no pseudo-header
      break;
    case kProtoIcmpV6:
      if (!v6) return true;
      if (l4.size() < kIcmpHeaderLen) return false;
      at = 2;
      break;
    default:
      return true;  // no checksum we know of
  }
  put16(&l4[at], 0);
  uint16_t c = inet_checksum(l4, pseudo);
  if (proto == kProtoUdp && c == 0) c = 0xffff;  // 0 means "no checksum" in UDP
  put16(&l4[at], c);
  return true;
}

std::vector<Bytes> fragment_v4(std::span<const uint8_t> pkt, size_t mtu_payload, uint32_t id) {
  if (pkt.size() < kIpv4HeaderLen) return {};
  size_t hl = static_cast<size_t>(pkt[0] & 0x0f) * 4;
  size_t total = get16(&pkt[2]);
  if (hl < kIpv4HeaderLen || total < hl || total > pkt.size()) return {};
  size_t data_len = total - hl;
  if (data_len <= mtu_payload) return {Bytes(pkt.begin(), pkt.begin() + total)};
  size_t chunk = mtu_payload & ~size_t{7};
  if (chunk == 0) return {};

  // Non-first fragments carry only the options with the "copied" bit (RFC 791).
  Bytes later_header(pkt.begin(), pkt.begin() + kIpv4HeaderLen);
  for (size_t i = kIpv4HeaderLen; i < hl;) {
    uint8_t type = pkt[i];
    if (type == 0) break;
    if (type == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= hl || pkt[i + 1] < 2 || i + pkt[i + 1] > hl) break;
    if (type & 0x80) later_header.insert(later_header.end(), &pkt[i], &pkt[i] + pkt[i + 1]);
    i += pkt[i + 1];
  }
  while (later_header.size() % 4) later_header.push_back(0);
  later_header[0] = static_cast<uint8_t>(0x40 | later_header.size() / 4);

  uint16_t orig_frag = get16(&pkt[6]);
  size_t base_offset = static_cast<size_t>(orig_frag & 0x1fff) * 8;
  bool orig_mf = orig_frag & 0x2000;

  std::vector<Bytes> out;
  for (size_t off = 0; off < data_len; off += chunk) {
    size_t n = std::min(chunk, data_len - off);
    bool last = off + n == data_len;
    Bytes f = off == 0 ? Bytes(pkt.begin(), pkt.begin() + hl) : later_header;
    size_t fhl = f.size();
    f.insert(f.end(), pkt.begin() + hl + off, pkt.begin() + hl + off + n);
    size_t frag_off = (base_offset + off) / 8;
    if (frag_off > 0x1fff) return {};
    put16(&f[2], static_cast<uint16_t>(f.size()));
    put16(&f[4], static_cast<uint16_t>(id));
    put16(&f[6], static_cast<uint16_t>(frag_off | (!last || orig_mf ? 0x2000 : 0)));
    put16(&f[10], 0);
    put16(&f[10], inet_checksum({f.data(), fhl}));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Bytes> fragment_v6(std::span<const uint8_t> pkt, size_t mtu_payload, uint32_t id) {
  if (pkt.size() < kIpv6HeaderLen) return {};
  size_t end = kIpv6HeaderLen + get16(&pkt[4]);
  if (end > pkt.size()) return {};
  // The unfragmentable part runs to the end of the last hop-by-hop or routing
  // header (RFC 8200 4.5); destination options after it are fragmentable.
  size_t unfrag = kIpv6HeaderLen;
  size_t nh_at = 6;  // where the next-header field that will point to the fragment header is
  uint8_t nh = pkt[6];
  size_t at = kIpv6HeaderLen;
  while (nh == 0 || nh == 43 || nh == 60) {
    if (at + 2 > end) return {};
    size_t len = ext_len(nh, &pkt[at]);
    if (at + len > end) return {};
    if (nh != 60) {
      unfrag = at + len;
      nh_at = at;
    }
    nh = pkt[at];
    at += len;
  }
  uint8_t first_fragmentable = pkt[nh_at];
  size_t data_len = end - unfrag;
  if (end - kIpv6HeaderLen <= mtu_payload) return {Bytes(pkt.begin(), pkt.begin() + end)};
  size_t overhead = unfrag - kIpv6HeaderLen + kIpv6FragHeaderLen;
  if (mtu_payload < overhead + 8) return {};
  size_t chunk = (mtu_payload - overhead) & ~size_t{7};

  std::vector<Bytes> out;
  for (size_t off = 0; off < data_len; off += chunk) {
    size_t n = std::min(chunk, data_len - off);
    bool last = off + n == data_len;
    if (off / 8 > 0x1fff) return {};
    Bytes f(pkt.begin(), pkt.begin() + unfrag);
    f[nh_at] = 44;
    f.push_back(first_fragmentable);
    f.push_back(0);
    push16(f, static_cast<uint16_t>(off | (last ? 0 : 1)));  // offset in 8-byte units << 3, M
    f.resize(f.size() + 4);
    put32(&f[f.size() - 4], id);
    f.insert(f.end(), pkt.begin() + unfrag + off, pkt.begin() + unfrag + off + n);
    put16(&f[4], static_cast<uint16_t>(f.size() - kIpv6HeaderLen));
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

uint16_t inet_checksum(std::span<const uint8_t> data, uint32_t initial) {
  return static_cast<uint16_t>(~fold(sum_words(data) + initial));
}

Bytes ip_packet(const IpAddr& src, const IpAddr& dst, uint8_t proto, std::span<const uint8_t> l4,
                const IpOptions& opt) {
  if (src.family != dst.family || (src.family != 4 && src.family != 6))
    die("ip_packet: source and destination must be both IPv4 or both IPv6");
  Bytes b;
  if (src.is_v4()) {
    if (l4.size() > 0xffff - kIpv4HeaderLen) die("ip_packet: IPv4 payload too large");
    b.resize(kIpv4HeaderLen);
    b[0] = 0x45;
    put16(&b[2], static_cast<uint16_t>(kIpv4HeaderLen + l4.size()));
    put16(&b[4], opt.ipv4_id);
    b[8] = opt.ttl;
    b[9] = proto;
    std::copy_n(src.bytes.begin(), 4, &b[12]);
    std::copy_n(dst.bytes.begin(), 4, &b[16]);
    put16(&b[10], inet_checksum({b.data(), kIpv4HeaderLen}));
  } else {
    if (l4.size() > 0xffff) die("ip_packet: IPv6 payload too large (no jumbograms)");
    b.resize(kIpv6HeaderLen);
    b[0] = 0x60;
    put16(&b[4], static_cast<uint16_t>(l4.size()));
    b[6] = proto;
    b[7] = opt.ttl;
    std::copy_n(src.bytes.begin(), 16, &b[8]);
    std::copy_n(dst.bytes.begin(), 16, &b[24]);
  }
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes udp(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
          std::span<const uint8_t> payload, const IpOptions& opt) {
  if (payload.size() > 0xffff - kUdpHeaderLen) die("udp: payload too large");
  Bytes l4(kUdpHeaderLen);
  put16(&l4[0], sport);
  put16(&l4[2], dport);
  put16(&l4[4], static_cast<uint16_t>(kUdpHeaderLen + payload.size()));
  l4.insert(l4.end(), payload.begin(), payload.end());
  Bytes pkt = ip_packet(src, dst, kProtoUdp, l4, opt);
  fix_checksums(pkt);
  return pkt;
}

Bytes tcp(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport, uint8_t flags,
          uint32_t seq, uint32_t ack, std::span<const uint8_t> payload, const IpOptions& opt) {
  Bytes l4(kTcpHeaderLen);
  put16(&l4[0], sport);
  put16(&l4[2], dport);
  put32(&l4[4], seq);
  put32(&l4[8], ack);
  l4[12] = 5 << 4;  // data offset: no options
  l4[13] = flags;
  put16(&l4[14], 65535);  // window
  l4.insert(l4.end(), payload.begin(), payload.end());
  Bytes pkt = ip_packet(src, dst, kProtoTcp, l4, opt);
  fix_checksums(pkt);
  return pkt;
}

Bytes icmp(const IpAddr& src, const IpAddr& dst, uint8_t type, uint8_t code,
           std::span<const uint8_t> body, const IpOptions& opt) {
  Bytes l4(kIcmpHeaderLen);
  l4[0] = type;
  l4[1] = code;
  l4.insert(l4.end(), body.begin(), body.end());
  Bytes pkt = ip_packet(src, dst, src.is_v4() ? kProtoIcmp : kProtoIcmpV6, l4, opt);
  fix_checksums(pkt);
  return pkt;
}

std::vector<Bytes> fragment(std::span<const uint8_t> ip_packet, size_t mtu_payload, uint32_t id) {
  if (ip_packet.empty()) return {};
  switch (ip_packet[0] >> 4) {
    case 4:
      return fragment_v4(ip_packet, mtu_payload, id);
    case 6:
      return fragment_v6(ip_packet, mtu_payload, id);
    default:
      return {};
  }
}

Bytes ethernet(std::span<const uint8_t> ip_packet, std::span<const uint16_t> vlan_tags) {
  Bytes b(kDstMac, kDstMac + 6);
  b.insert(b.end(), kSrcMac, kSrcMac + 6);
  // Outer tags of a stack are 802.1ad service tags; the innermost is 802.1Q.
  for (size_t i = 0; i < vlan_tags.size(); ++i) {
    push16(b, i + 1 < vlan_tags.size() ? kEtherQinQ : kEtherVlan);
    push16(b, vlan_tags[i]);
  }
  push16(b, ethertype_of(ip_packet));
  b.insert(b.end(), ip_packet.begin(), ip_packet.end());
  return b;
}

Bytes linux_sll(std::span<const uint8_t> ip_packet) {
  Bytes b;
  push16(b, 0);  // packet type: to us
  push16(b, 1);  // ARPHRD_ETHER
  push16(b, 6);  // address length
  b.insert(b.end(), kSrcMac, kSrcMac + 6);
  push16(b, 0);  // address padding to 8 bytes
  push16(b, ethertype_of(ip_packet));
  b.insert(b.end(), ip_packet.begin(), ip_packet.end());
  return b;
}

Bytes linux_sll2(std::span<const uint8_t> ip_packet) {
  Bytes b;
  push16(b, ethertype_of(ip_packet));
  push16(b, 0);  // reserved
  b.resize(b.size() + 4);
  put32(&b[b.size() - 4], 1);  // interface index
  push16(b, 1);                // ARPHRD_ETHER
  b.push_back(0);              // packet type: to us
  b.push_back(6);              // address length
  b.insert(b.end(), kSrcMac, kSrcMac + 6);
  push16(b, 0);  // address padding to 8 bytes
  b.insert(b.end(), ip_packet.begin(), ip_packet.end());
  return b;
}

Bytes bsd_null(std::span<const uint8_t> ip_packet) {
  uint32_t af = ethertype_of(ip_packet) == kEtherIpv6 ? kBsdAfInet6 : kBsdAfInet;
  Bytes b(4);
  std::memcpy(b.data(), &af, 4);  // host byte order, as DLT_NULL writers do
  b.insert(b.end(), ip_packet.begin(), ip_packet.end());
  return b;
}

bool fix_checksums(std::span<uint8_t> pkt) {
  if (pkt.empty()) return false;
  if ((pkt[0] >> 4) == 4) {
    if (pkt.size() < kIpv4HeaderLen) return false;
    size_t hl = static_cast<size_t>(pkt[0] & 0x0f) * 4;
    size_t total = get16(&pkt[2]);
    if (hl < kIpv4HeaderLen || total < hl || total > pkt.size()) return false;
    put16(&pkt[10], 0);
    put16(&pkt[10], inet_checksum(pkt.first(hl)));
    if (get16(&pkt[6]) & 0x3fff) return false;  // a fragment: the L4 checksum spans others
    std::span<uint8_t> l4 = pkt.subspan(hl, total - hl);
    uint8_t proto = pkt[9];
    return fix_l4(proto, l4,
                  pseudo_header_sum(pkt.subspan(12, 4), pkt.subspan(16, 4), proto, l4.size()),
                  false);
  }
  if ((pkt[0] >> 4) == 6) {
    if (pkt.size() < kIpv6HeaderLen) return false;
    size_t end = kIpv6HeaderLen + get16(&pkt[4]);
    if (end > pkt.size()) return false;
    uint8_t nh = pkt[6];
    size_t at = kIpv6HeaderLen;
    while (is_v6_ext(nh)) {
      if (at + 2 > end) return false;
      size_t len = ext_len(nh, &pkt[at]);
      if (at + len > end) return false;
      nh = pkt[at];
      at += len;
    }
    if (nh == 44) return false;  // a fragment
    std::span<uint8_t> l4 = pkt.subspan(at, end - at);
    return fix_l4(nh, l4, pseudo_header_sum(pkt.subspan(8, 16), pkt.subspan(24, 16), nh, l4.size()),
                  true);
  }
  return false;
}

}  // namespace tripline::craft
