#include "decode.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "packet_craft.h"

namespace tripline {
namespace {

using craft::Bytes;

IpAddr ip(const char* text) {
  auto a = IpAddr::parse(text);
  if (!a) std::abort();
  return *a;
}

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 13 + 1);
  return b;
}

void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

const IpAddr kA4 = ip("10.0.0.1"), kB4 = ip("192.0.2.80");
const IpAddr kA6 = ip("fd00::1"), kB6 = ip("2001:db8::80");

bool inside(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// The invariants every result keeps, whatever the input.
void check_invariants(DecodeError err, const Decoded& d, std::span<const uint8_t> input) {
  ASSERT_LT(static_cast<size_t>(err), static_cast<size_t>(DecodeError::kCount));
  if (err != DecodeError::None) {
    EXPECT_TRUE(d.ip.empty() && d.l4.empty() && d.payload.empty());
    return;
  }
  ASSERT_TRUE(d.ip_version == 4 || d.ip_version == 6);
  EXPECT_EQ(d.src.family, d.ip_version);
  EXPECT_EQ(d.dst.family, d.ip_version);
  EXPECT_TRUE(inside(d.ip, input));
  EXPECT_TRUE(inside(d.l4, d.ip));
  EXPECT_TRUE(inside(d.payload, d.ip));
  if (!d.l4.empty()) {
    EXPECT_TRUE(inside(d.payload, d.l4));
  }
  EXPECT_GE(d.ip_len, d.ip.size());
  EXPECT_EQ(d.is_fragment, d.more_fragments || d.frag_offset != 0);
  if (!d.has_ports) {
    EXPECT_EQ(d.sport, 0);
    EXPECT_EQ(d.dport, 0);
  }
  if (d.frag_offset != 0) {
    EXPECT_FALSE(d.has_ports);
    EXPECT_TRUE(d.l4.empty());
  }
}

DecodeError run(LinkType link, std::span<const uint8_t> bytes, Decoded& d) {
  DecodeError err = decode(link, bytes, d);
  check_invariants(err, d, bytes);
  return err;
}

Decoded decode_ok(LinkType link, const Bytes& bytes) {
  Decoded d;
  DecodeError err = run(link, bytes, d);
  EXPECT_EQ(err, DecodeError::None) << to_string(err);
  return d;
}

Bytes null_frame(uint32_t af, bool big_endian, std::span<const uint8_t> pkt) {
  Bytes b(4);
  for (int i = 0; i < 4; ++i)
    b[static_cast<size_t>(i)] = static_cast<uint8_t>(af >> (big_endian ? 24 - 8 * i : 8 * i));
  b.insert(b.end(), pkt.begin(), pkt.end());
  return b;
}

struct Framing {
  const char* name;
  LinkType link;
  size_t header_len;
  std::function<Bytes(std::span<const uint8_t>)> frame;
};

std::vector<Framing> framings() {
  static const uint16_t kTwoTags[] = {0x0064, 0x20c8};
  static const uint16_t kThreeTags[] = {1, 2, 3};
  return {
      {"raw", LinkType::Raw, 0, [](auto p) { return Bytes(p.begin(), p.end()); }},
      {"ethernet", LinkType::Ethernet, 14, [](auto p) { return craft::ethernet(p); }},
      {"vlan2", LinkType::Ethernet, 22, [](auto p) { return craft::ethernet(p, kTwoTags); }},
      {"vlan3", LinkType::Ethernet, 26, [](auto p) { return craft::ethernet(p, kThreeTags); }},
      {"sll", LinkType::LinuxSll, 16, [](auto p) { return craft::linux_sll(p); }},
      {"sll2", LinkType::LinuxSll2, 20, [](auto p) { return craft::linux_sll2(p); }},
      {"null", LinkType::Null, 4, [](auto p) { return craft::bsd_null(p); }},
      {"loop", LinkType::Null, 4,
       [](auto p) { return null_frame((p[0] >> 4) == 6 ? 30 : 2, true, p); }},
  };
}

// A valid IP packet and where its layers start and end.
struct Sample {
  const char* name;
  Bytes ip;
  size_t ip_header;  // IPv4 header with options, or IPv6 header plus extension headers
  size_t l4_header;  // 0 when there is no upper-layer header
  DecodeError l4_truncated;
  uint8_t proto;
};

// IPv6 with hop-by-hop, routing, destination options and AH before UDP.
Bytes ipv6_ext_chain(size_t payload) {
  Bytes u = craft::udp(kA6, 7777, kB6, 7778, pattern(payload));
  Bytes l4 = {
      43, 0, 1, 4, 0, 0, 0, 0,                          // hop-by-hop (PadN), next: routing
      60, 2, 4, 0, 0, 0, 0, 0,                          // routing type 4 (SRH) with 16 more bytes
      0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
      51, 0, 1, 4, 0, 0, 0, 0,                          // destination options, next: AH
      17, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1,              // AH: (4 + 2) * 4 = 24 bytes
      0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,              //
  };
  l4.insert(l4.end(), u.begin() + 40, u.end());
  Bytes p = craft::ip_packet(kA6, kB6, 0, l4);
  EXPECT_TRUE(craft::fix_checksums(p));
  return p;
}
constexpr size_t kExtChainLen = 8 + 24 + 8 + 24;

// IPv4 with 4 bytes of options (NOP NOP NOP EOL) before TCP.
Bytes ipv4_with_options() {
  Bytes t = craft::tcp(kA4, 1111, kB4, 2222, 0x18, 5, 6, pattern(9));
  Bytes p(t.begin(), t.begin() + 20);
  p.insert(p.end(), {1, 1, 1, 0});
  p.insert(p.end(), t.begin() + 20, t.end());
  p[0] = 0x46;
  put16(p, 2, static_cast<uint16_t>(p.size()));
  EXPECT_TRUE(craft::fix_checksums(p));
  return p;
}

std::vector<Sample> samples() {
  const uint8_t echo[] = {0, 7, 0, 1, 'x', 'y'};
  return {
      {"v4-tcp", craft::tcp(kA4, 40000, kB4, 80, 0x18, 100, 200, pattern(30)), 20, 20,
       DecodeError::TcpTruncated, 6},
      {"v4-udp", craft::udp(kA4, 5000, kB4, 53, pattern(25)), 20, 8, DecodeError::UdpTruncated, 17},
      {"v4-icmp", craft::icmp(kA4, kB4, 8, 0, echo), 20, 4, DecodeError::IcmpTruncated, 1},
      {"v4-options-tcp", ipv4_with_options(), 24, 20, DecodeError::TcpTruncated, 6},
      {"v6-tcp", craft::tcp(kA6, 40001, kB6, 443, 0x02, 7, 0, pattern(5)), 40, 20,
       DecodeError::TcpTruncated, 6},
      {"v6-udp", craft::udp(kA6, 5001, kB6, 53, pattern(40)), 40, 8, DecodeError::UdpTruncated, 17},
      {"v6-icmp", craft::icmp(kA6, kB6, 128, 0, echo), 40, 4, DecodeError::IcmpTruncated, 58},
      {"v6-ext-udp", ipv6_ext_chain(12), 40 + kExtChainLen, 8, DecodeError::UdpTruncated, 17},
  };
}

TEST(Decode, LinkTypeFromDlt) {
  for (int dlt : {12, 14, 101, 228, 229}) EXPECT_EQ(link_type_from_dlt(dlt), LinkType::Raw) << dlt;
  EXPECT_EQ(link_type_from_dlt(1), LinkType::Ethernet);
  EXPECT_EQ(link_type_from_dlt(113), LinkType::LinuxSll);
  EXPECT_EQ(link_type_from_dlt(276), LinkType::LinuxSll2);
  EXPECT_EQ(link_type_from_dlt(0), LinkType::Null);
  EXPECT_EQ(link_type_from_dlt(108), LinkType::Null);
  for (int dlt : {-1, 9, 105, 127, 147, 1000}) EXPECT_FALSE(link_type_from_dlt(dlt)) << dlt;
}

TEST(Decode, ErrorNamesAreStableSnakeCase) {
  EXPECT_STREQ(to_string(DecodeError::None), "none");
  EXPECT_STREQ(to_string(DecodeError::LinkTruncated), "link_truncated");
  EXPECT_STREQ(to_string(DecodeError::NotIp), "not_ip");
  EXPECT_STREQ(to_string(DecodeError::Ipv4Truncated), "ipv4_truncated");
  EXPECT_STREQ(to_string(DecodeError::Ipv6ExtTruncated), "ipv6_ext_truncated");
  EXPECT_STREQ(to_string(DecodeError::UdpBadLength), "udp_bad_length");
  std::set<std::string> seen;
  for (size_t i = 0; i < static_cast<size_t>(DecodeError::kCount); ++i) {
    std::string name = to_string(static_cast<DecodeError>(i));
    EXPECT_NE(name, "unknown") << i;
    EXPECT_TRUE(seen.insert(name).second) << name;
    for (char c : name)
      EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '_' ||
                  std::isdigit(static_cast<unsigned char>(c)))
          << name;
  }
  EXPECT_STREQ(to_string(DecodeError::kCount), "unknown");
}

TEST(Decode, EveryLayerOnEveryLinkType) {
  for (const Framing& f : framings()) {
    for (const Sample& s : samples()) {
      SCOPED_TRACE(std::string(f.name) + " " + s.name);
      Bytes frame = f.frame(s.ip);
      Decoded d = decode_ok(f.link, frame);
      bool v6 = (s.ip[0] >> 4) == 6;
      EXPECT_EQ(d.ip_version, v6 ? 6 : 4);
      EXPECT_EQ(d.src, v6 ? kA6 : kA4);
      EXPECT_EQ(d.dst, v6 ? kB6 : kB4);
      EXPECT_EQ(d.proto, s.proto);
      EXPECT_EQ(d.ttl, 64);
      EXPECT_EQ(d.ip.data(), frame.data() + f.header_len);
      EXPECT_EQ(d.ip.size(), s.ip.size());
      EXPECT_EQ(d.ip_len, s.ip.size());
      EXPECT_EQ(d.l4.data(), d.ip.data() + s.ip_header);
      EXPECT_EQ(d.l4.size(), s.ip.size() - s.ip_header);
      EXPECT_EQ(d.payload.data(), d.l4.data() + s.l4_header);
      EXPECT_EQ(d.payload.size(), s.ip.size() - s.ip_header - s.l4_header);
      EXPECT_TRUE(d.has_ports);
      EXPECT_FALSE(d.is_fragment);
    }
  }
}

TEST(Decode, TcpFields) {
  Bytes p = craft::tcp(kA4, 40000, kB4, 80, 0x12, 0xdeadbeef, 0x01020304, pattern(3));
  Decoded d = decode_ok(LinkType::Raw, p);
  EXPECT_EQ(d.sport, 40000);
  EXPECT_EQ(d.dport, 80);
  EXPECT_EQ(d.tcp_flags, 0x12);
  EXPECT_EQ(d.tcp_seq, 0xdeadbeefu);
  EXPECT_EQ(d.tcp_ack, 0x01020304u);
  ASSERT_EQ(d.payload.size(), 3u);
  EXPECT_EQ(d.payload[0], pattern(3)[0]);
}

TEST(Decode, TcpOptionsAreSkipped) {
  Bytes t = craft::tcp(kA6, 1, kB6, 2, 0x02, 0, 0, pattern(4));
  Bytes p(t.begin(), t.begin() + 60);
  p.insert(p.end(), {2, 4, 0x05, 0xb4, 1, 1, 4, 2});  // MSS, NOP, NOP, SACK permitted
  p.insert(p.end(), t.begin() + 60, t.end());
  p[52] = 7 << 4;
  put16(p, 4, static_cast<uint16_t>(p.size() - 40));
  ASSERT_TRUE(craft::fix_checksums(p));
  Decoded d = decode_ok(LinkType::Raw, p);
  EXPECT_EQ(d.l4.size(), 32u);
  EXPECT_EQ(d.payload.size(), 4u);
  EXPECT_EQ(d.payload.data(), p.data() + 68);
}

TEST(Decode, UdpAndIcmpFields) {
  Decoded u = decode_ok(LinkType::Raw, craft::udp(kA6, 5353, kB6, 53, pattern(10)));
  EXPECT_EQ(u.sport, 5353);
  EXPECT_EQ(u.dport, 53);
  EXPECT_EQ(u.payload.size(), 10u);
  const uint8_t echo[] = {0, 1, 0, 2};
  Decoded i4 = decode_ok(LinkType::Raw, craft::icmp(kA4, kB4, 3, 13, echo));
  EXPECT_EQ(i4.proto, 1);
  EXPECT_EQ(i4.sport, 3);
  EXPECT_EQ(i4.dport, 13);
  EXPECT_EQ(i4.payload.size(), 4u);
  Decoded i6 = decode_ok(LinkType::Raw, craft::icmp(kA6, kB6, 129, 0, {}));
  EXPECT_EQ(i6.proto, 58);
  EXPECT_EQ(i6.sport, 129);
  EXPECT_EQ(i6.dport, 0);
  EXPECT_TRUE(i6.has_ports);
  EXPECT_TRUE(i6.payload.empty());
}

TEST(Decode, UdpLengthShorterThanIpPayloadBoundsTheDatagram) {
  Bytes p = craft::udp(kA4, 1, kB4, 2, pattern(10));
  put16(p, 24, 8 + 4);  // the datagram claims 4 bytes of payload out of 10
  Decoded d = decode_ok(LinkType::Raw, p);
  EXPECT_EQ(d.l4.size(), 12u);
  EXPECT_EQ(d.payload.size(), 4u);
  EXPECT_EQ(d.ip.size(), p.size());
}

TEST(Decode, EthernetPaddingIsIgnored) {
  Bytes p = craft::udp(kA4, 1, kB4, 2, pattern(2));  // 30 bytes: padded to a 60-byte frame
  Bytes e = craft::ethernet(p);
  e.resize(60, 0);
  Decoded d = decode_ok(LinkType::Ethernet, e);
  EXPECT_EQ(d.ip.size(), p.size());
  EXPECT_EQ(d.ip_len, p.size());
  EXPECT_EQ(d.payload.size(), 2u);
  Bytes t = craft::tcp(kA6, 1, kB6, 2, 0x10, 1, 1, {});
  Bytes s = craft::linux_sll2(t);
  s.insert(s.end(), 6, 0xee);
  Decoded d6 = decode_ok(LinkType::LinuxSll2, s);
  EXPECT_EQ(d6.ip.size(), t.size());
  EXPECT_TRUE(d6.payload.empty());
}

TEST(Decode, EthernetTagKinds) {
  Bytes p = craft::udp(kA4, 1, kB4, 2, pattern(2));
  for (uint16_t tpid : {0x8100, 0x88a8, 0x9100}) {
    Bytes e = craft::ethernet(p);
    e.insert(e.begin() + 12, {static_cast<uint8_t>(tpid >> 8), static_cast<uint8_t>(tpid), 0, 5});
    Decoded d = decode_ok(LinkType::Ethernet, e);
    EXPECT_EQ(d.ip.data(), e.data() + 18) << tpid;
  }
}

TEST(Decode, NullAcceptsEveryAddressFamilyInBothByteOrders) {
  Bytes v4 = craft::udp(kA4, 1, kB4, 2, pattern(2));
  Bytes v6 = craft::udp(kA6, 1, kB6, 2, pattern(2));
  for (bool big : {false, true}) {
    EXPECT_EQ(decode_ok(LinkType::Null, null_frame(2, big, v4)).ip_version, 4);
    for (uint32_t af : {10u, 24u, 28u, 30u})
      EXPECT_EQ(decode_ok(LinkType::Null, null_frame(af, big, v6)).ip_version, 6) << af;
    Decoded d;
    EXPECT_EQ(run(LinkType::Null, null_frame(7, big, v4), d), DecodeError::NotIp);
    EXPECT_EQ(run(LinkType::Null, null_frame(2, big, v6), d), DecodeError::BadIpVersion);
    EXPECT_EQ(run(LinkType::Null, null_frame(24, big, v4), d), DecodeError::BadIpVersion);
  }
}

TEST(Decode, Ipv6ExtensionHeaderChain) {
  Bytes p = ipv6_ext_chain(12);
  Decoded d = decode_ok(LinkType::Raw, p);
  EXPECT_EQ(d.proto, 17);
  EXPECT_EQ(d.sport, 7777);
  EXPECT_EQ(d.dport, 7778);
  EXPECT_EQ(d.payload.size(), 12u);
  EXPECT_FALSE(d.is_fragment);
}

TEST(Decode, Ipv6EspAndNoNextHeaderStopTheWalk) {
  Bytes esp_body = {0, 0, 1, 0, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22};
  Bytes l4 = {50, 0, 1, 4, 0, 0, 0, 0};  // hop-by-hop, next: ESP
  l4.insert(l4.end(), esp_body.begin(), esp_body.end());
  Decoded d = decode_ok(LinkType::Raw, craft::ip_packet(kA6, kB6, 0, l4));
  EXPECT_EQ(d.proto, 50);
  EXPECT_FALSE(d.has_ports);
  EXPECT_EQ(d.l4.size(), esp_body.size());

  Decoded n = decode_ok(LinkType::Raw, craft::ip_packet(kA6, kB6, 59, pattern(8)));
  EXPECT_EQ(n.proto, 59);
  EXPECT_FALSE(n.has_ports);
}

TEST(Decode, OtherProtocolsHaveNoPortsAndNoError) {
  Decoded gre = decode_ok(LinkType::Raw, craft::ip_packet(kA4, kB4, 47, pattern(2)));
  EXPECT_EQ(gre.proto, 47);
  EXPECT_FALSE(gre.has_ports);
  EXPECT_EQ(gre.l4.size(), 2u);
  Decoded sctp = decode_ok(LinkType::Raw, craft::ip_packet(kA6, kB6, 132, {}));
  EXPECT_EQ(sctp.proto, 132);
  EXPECT_FALSE(sctp.has_ports);
  // ICMP numbers of the other family are not ICMP.
  Decoded icmp_in_v6 = decode_ok(LinkType::Raw, craft::ip_packet(kA6, kB6, 1, pattern(1)));
  EXPECT_FALSE(icmp_in_v6.has_ports);
  Decoded icmp6_in_v4 = decode_ok(LinkType::Raw, craft::ip_packet(kA4, kB4, 58, pattern(1)));
  EXPECT_FALSE(icmp6_in_v4.has_ports);
}

TEST(Decode, Ipv4Fragments) {
  Bytes whole = craft::udp(kA4, 9000, kB4, 9001, pattern(2000));
  auto frags = craft::fragment(whole, 800, 0xabcd);
  ASSERT_EQ(frags.size(), 3u);
  for (size_t i = 0; i < frags.size(); ++i) {
    SCOPED_TRACE(i);
    Bytes e = craft::ethernet(frags[i]);
    Decoded d = decode_ok(LinkType::Ethernet, e);
    EXPECT_TRUE(d.is_fragment);
    EXPECT_EQ(d.frag_id, 0xabcdu);
    EXPECT_EQ(d.frag_offset, i * 800);
    EXPECT_EQ(d.more_fragments, i != 2);
    EXPECT_EQ(d.proto, 17);
    EXPECT_EQ(d.ip_len, frags[i].size());
    if (i == 0) {
      EXPECT_TRUE(d.has_ports);  // the UDP length covers the whole datagram: accepted
      EXPECT_EQ(d.sport, 9000);
      EXPECT_EQ(d.dport, 9001);
      EXPECT_EQ(d.payload.size(), 800u - 8);
    } else {
      EXPECT_FALSE(d.has_ports);
      EXPECT_EQ(d.sport, 0);
      EXPECT_TRUE(d.l4.empty());
      EXPECT_EQ(d.payload.size(), frags[i].size() - 20);
    }
  }
}

TEST(Decode, Ipv6Fragments) {
  Bytes whole = craft::tcp(kA6, 4000, kB6, 4001, 0x18, 1, 2, pattern(2000));
  auto frags = craft::fragment(whole, 1000, 0x89abcdef);
  ASSERT_EQ(frags.size(), 3u);
  for (size_t i = 0; i < frags.size(); ++i) {
    SCOPED_TRACE(i);
    Decoded d = decode_ok(LinkType::LinuxSll, craft::linux_sll(frags[i]));
    EXPECT_TRUE(d.is_fragment);
    EXPECT_EQ(d.frag_id, 0x89abcdefu);
    EXPECT_EQ(d.frag_offset, i * 992);
    EXPECT_EQ(d.more_fragments, i != 2);
    EXPECT_EQ(d.proto, 6);
    EXPECT_EQ(d.has_ports, i == 0);
    if (i == 0) {
      EXPECT_EQ(d.sport, 4000);
      EXPECT_EQ(d.tcp_flags, 0x18);
    } else {
      EXPECT_EQ(d.payload.size(), frags[i].size() - 48);
    }
  }
  // A first fragment too short for the TCP header it starts.
  Bytes tiny = craft::fragment(whole, 16, 1)[0];
  Decoded d;
  EXPECT_EQ(run(LinkType::Raw, tiny, d), DecodeError::TcpTruncated);
}

TEST(Decode, Ipv6AtomicFragmentIsNotAFragment) {
  Bytes u = craft::udp(kA6, 1, kB6, 2, pattern(3));
  Bytes l4 = {17, 0, 0, 0, 0, 0, 0, 9};  // fragment header, offset 0, M = 0
  l4.insert(l4.end(), u.begin() + 40, u.end());
  Decoded d = decode_ok(LinkType::Raw, craft::ip_packet(kA6, kB6, 44, l4));
  EXPECT_FALSE(d.is_fragment);
  EXPECT_TRUE(d.has_ports);
  EXPECT_EQ(d.frag_id, 9u);
}

TEST(Decode, Ipv6PayloadLengthZeroRunsToTheEnd) {
  Bytes p = craft::udp(kA6, 1, kB6, 2, pattern(20));
  put16(p, 4, 0);
  Decoded d = decode_ok(LinkType::Raw, p);
  EXPECT_EQ(d.ip.size(), p.size());
  EXPECT_EQ(d.ip_len, p.size());
  EXPECT_EQ(d.payload.size(), 20u);
}

TEST(Decode, SnaplenTruncatedPayloadStillDecodes) {
  for (const Sample& s : samples()) {
    SCOPED_TRACE(s.name);
    size_t keep = s.ip_header + s.l4_header + 1;
    ASSERT_LT(keep, s.ip.size());
    Bytes cut(s.ip.begin(), s.ip.begin() + static_cast<long>(keep));
    Decoded d = decode_ok(LinkType::Raw, cut);
    EXPECT_EQ(d.ip_len, s.ip.size());
    EXPECT_EQ(d.ip.size(), keep);
    EXPECT_EQ(d.payload.size(), 1u);
    EXPECT_TRUE(d.has_ports);
  }
}

// Truncating a valid frame anywhere never crashes (ASan) and yields the error
// of the layer the cut falls in, or success with shortened spans.
TEST(Decode, TruncatedAtEveryOffset) {
  for (const Framing& f : framings()) {
    for (const Sample& s : samples()) {
      SCOPED_TRACE(std::string(f.name) + " " + s.name);
      Bytes frame = f.frame(s.ip);
      bool v6 = (s.ip[0] >> 4) == 6;
      size_t ip_at = f.header_len;
      for (size_t n = 0; n <= frame.size(); ++n) {
        SCOPED_TRACE(n);
        // A heap copy of exactly n bytes, so ASan sees any read past the end.
        std::unique_ptr<uint8_t[]> buf(new uint8_t[n == 0 ? 1 : n]);
        std::memcpy(buf.get(), frame.data(), n);
        std::span<const uint8_t> bytes(buf.get(), n);
        Decoded d;
        DecodeError err = run(f.link, bytes, d);
        DecodeError want;
        if (n < ip_at || n == 0) {
          want = DecodeError::LinkTruncated;
        } else if (n < ip_at + (v6 ? 40 : 20)) {
          want = v6 ? DecodeError::Ipv6Truncated : DecodeError::Ipv4Truncated;
        } else if (n < ip_at + s.ip_header) {
          want = v6 ? DecodeError::Ipv6ExtTruncated : DecodeError::Ipv4Truncated;
        } else if (n < ip_at + s.ip_header + s.l4_header) {
          want = s.l4_truncated;
        } else {
          want = DecodeError::None;
        }
        ASSERT_EQ(err, want) << to_string(err);
        if (err == DecodeError::None) {
          EXPECT_EQ(d.ip_len, s.ip.size());
          EXPECT_EQ(d.ip.size(), n - ip_at);
          EXPECT_EQ(d.payload.size(), n - ip_at - s.ip_header - s.l4_header);
        }
      }
    }
  }
}

struct Bad {
  const char* name;
  LinkType link;
  Bytes bytes;
  DecodeError want;
};

std::vector<Bad> malformed() {
  Bytes v4 = craft::udp(kA4, 4000, kB4, 4001, pattern(2));
  Bytes v6 = craft::udp(kA6, 4000, kB6, 4001, pattern(2));
  auto edit = [](Bytes b, auto fn) {
    fn(b);
    return b;
  };
  auto first = [](const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + n); };
  Bytes arp = craft::ethernet(v4);
  put16(arp, 12, 0x0806);
  Bytes llc = craft::ethernet(v4);
  put16(llc, 12, 0x0040);  // 802.3 length field
  Bytes sll_arp = craft::linux_sll(v4);
  put16(sll_arp, 14, 0x0806);
  Bytes sll2_arp = craft::linux_sll2(v4);
  put16(sll2_arp, 0, 0x0806);
  Bytes tcp_options_past_end = craft::tcp(kA4, 1, kB4, 2, 0x10, 0, 0, {});
  tcp_options_past_end[32] = 0xf0;
  Bytes udp_len_past_end = craft::udp(kA6, 1, kB6, 2, pattern(4));
  put16(udp_len_past_end, 44, 100);
  return {
      {"ethernet-short", LinkType::Ethernet, first(craft::ethernet(v4), 13),
       DecodeError::LinkTruncated},
      {"vlan-tag-cut", LinkType::Ethernet, first(craft::ethernet(v4, std::vector<uint16_t>{5}), 17),
       DecodeError::LinkTruncated},
      {"sll-short", LinkType::LinuxSll, first(craft::linux_sll(v4), 15),
       DecodeError::LinkTruncated},
      {"sll2-short", LinkType::LinuxSll2, first(craft::linux_sll2(v4), 19),
       DecodeError::LinkTruncated},
      {"null-short", LinkType::Null, first(craft::bsd_null(v4), 3), DecodeError::LinkTruncated},
      {"raw-empty", LinkType::Raw, {}, DecodeError::LinkTruncated},
      {"unknown-link", static_cast<LinkType>(42), v4, DecodeError::LinkUnsupported},
      {"arp", LinkType::Ethernet, arp, DecodeError::NotIp},
      {"llc", LinkType::Ethernet, llc, DecodeError::NotIp},
      {"sll-arp", LinkType::LinuxSll, sll_arp, DecodeError::NotIp},
      {"sll2-arp", LinkType::LinuxSll2, sll2_arp, DecodeError::NotIp},
      {"ipv4-short", LinkType::Raw, first(v4, 12), DecodeError::Ipv4Truncated},
      {"ipv4-empty-after-ethernet", LinkType::Ethernet, first(craft::ethernet(v4), 14),
       DecodeError::Ipv4Truncated},
      {"ipv4-options-cut", LinkType::Raw, first(ipv4_with_options(), 22),
       DecodeError::Ipv4Truncated},
      {"ipv4-ihl-4", LinkType::Raw, edit(v4, [](Bytes& b) { b[0] = 0x44; }),
       DecodeError::Ipv4BadHeaderLength},
      {"ipv4-ihl-0", LinkType::Raw, edit(v4, [](Bytes& b) { b[0] = 0x40; }),
       DecodeError::Ipv4BadHeaderLength},
      {"ipv4-total-16", LinkType::Raw, edit(v4, [](Bytes& b) { put16(b, 2, 16); }),
       DecodeError::Ipv4BadTotalLength},
      {"ipv4-total-below-options", LinkType::Raw,
       edit(ipv4_with_options(), [](Bytes& b) { put16(b, 2, 22); }),
       DecodeError::Ipv4BadTotalLength},
      {"ipv6-short", LinkType::Raw, first(v6, 39), DecodeError::Ipv6Truncated},
      {"ipv6-empty-after-sll", LinkType::LinuxSll, first(craft::linux_sll(v6), 16),
       DecodeError::Ipv6Truncated},
      {"ipv6-ext-past-end", LinkType::Raw, craft::ip_packet(kA6, kB6, 60, Bytes{17, 5, 0, 0}),
       DecodeError::Ipv6ExtTruncated},
      {"ipv6-ext-one-byte", LinkType::Raw, craft::ip_packet(kA6, kB6, 0, Bytes{17}),
       DecodeError::Ipv6ExtTruncated},
      {"ipv6-frag-header-short", LinkType::Raw,
       craft::ip_packet(kA6, kB6, 44, Bytes{17, 0, 0, 0, 0, 0}), DecodeError::Ipv6ExtTruncated},
      {"ipv6-ah-past-end", LinkType::Raw,
       craft::ip_packet(kA6, kB6, 51, Bytes{17, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
       DecodeError::Ipv6ExtTruncated},
      {"version-7", LinkType::Raw, edit(v4, [](Bytes& b) { b[0] = 0x75; }),
       DecodeError::BadIpVersion},
      {"version-0", LinkType::Raw, Bytes(40, 0), DecodeError::BadIpVersion},
      {"ethertype-v4-carrying-v6", LinkType::Ethernet,
       edit(craft::ethernet(v6), [](Bytes& b) { put16(b, 12, 0x0800); }),
       DecodeError::BadIpVersion},
      {"sll2-v6-carrying-v4", LinkType::LinuxSll2,
       edit(craft::linux_sll2(v4), [](Bytes& b) { put16(b, 0, 0x86dd); }),
       DecodeError::BadIpVersion},
      {"tcp-short", LinkType::Raw, craft::ip_packet(kA4, kB4, 6, Bytes(10)),
       DecodeError::TcpTruncated},
      {"tcp-short-with-trailer", LinkType::Raw,
       edit(craft::ip_packet(kA4, kB4, 6, {}), [](Bytes& b) { b.resize(30, 0); }),
       DecodeError::TcpTruncated},
      {"tcp-offset-2", LinkType::Raw,
       edit(craft::tcp(kA4, 1, kB4, 2, 0x02, 0, 0, {}), [](Bytes& b) { b[32] = 0x20; }),
       DecodeError::TcpBadHeaderLength},
      {"tcp-options-past-end", LinkType::Raw, tcp_options_past_end,
       DecodeError::TcpBadHeaderLength},
      {"udp-short", LinkType::Raw, craft::ip_packet(kA4, kB4, 17, Bytes(4)),
       DecodeError::UdpTruncated},
      {"udp-length-4", LinkType::Raw, edit(v4, [](Bytes& b) { put16(b, 24, 4); }),
       DecodeError::UdpBadLength},
      {"udp-length-past-complete-packet", LinkType::Raw, udp_len_past_end,
       DecodeError::UdpBadLength},
      {"icmp-short", LinkType::Raw, craft::ip_packet(kA4, kB4, 1, Bytes{8}),
       DecodeError::IcmpTruncated},
      {"icmpv6-short", LinkType::Raw, craft::ip_packet(kA6, kB6, 58, Bytes{128, 0, 0}),
       DecodeError::IcmpTruncated},
  };
}

TEST(Decode, MalformedPacketsOfEveryKind) {
  std::set<DecodeError> covered;
  for (const Bad& b : malformed()) {
    SCOPED_TRACE(b.name);
    Decoded d;
    d.proto = 99;  // an error leaves a clean result behind
    DecodeError err = run(b.link, b.bytes, d);
    EXPECT_EQ(err, b.want) << to_string(err) << " != " << to_string(b.want);
    EXPECT_EQ(d.proto, 0);
    covered.insert(err);
  }
  for (size_t i = 1; i < static_cast<size_t>(DecodeError::kCount); ++i)
    EXPECT_TRUE(covered.count(static_cast<DecodeError>(i)))
        << to_string(static_cast<DecodeError>(i));
}

TEST(Decode, UdpLengthPastCapturedBytesIsAcceptedWhenTruncated) {
  Bytes p = craft::udp(kA4, 1, kB4, 2, pattern(100));
  Bytes cut(p.begin(), p.begin() + 40);
  Decoded d = decode_ok(LinkType::Raw, cut);
  EXPECT_EQ(d.l4.size(), 20u);
  EXPECT_EQ(d.payload.size(), 12u);
  EXPECT_EQ(d.ip_len, p.size());
}

}  // namespace
}  // namespace tripline
