#include "packet_craft.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace tripline::craft {
namespace {

IpAddr ip(const char* text) {
  auto a = IpAddr::parse(text);
  if (!a) std::abort();
  return *a;
}

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

uint16_t be16(const Bytes& b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }
uint32_t be32(const Bytes& b, size_t at) {
  return static_cast<uint32_t>(be16(b, at)) << 16 | be16(b, at + 2);
}

// Independent pseudo-header sum: words of the addresses, protocol, length.
uint32_t pseudo(const Bytes& pkt, size_t l4_len) {
  bool v6 = (pkt[0] >> 4) == 6;
  size_t a = v6 ? 8 : 12, alen = v6 ? 32 : 8;
  uint32_t sum = 0;
  for (size_t i = 0; i < alen; i += 2) sum += be16(pkt, a + i);
  sum += v6 ? pkt[6] : pkt[9];
  sum += static_cast<uint32_t>(l4_len);
  return sum;
}

size_t ip_header_len(const Bytes& pkt) {
  return (pkt[0] >> 4) == 4 ? static_cast<size_t>(pkt[0] & 0xf) * 4 : 40;
}

// The checksum over the whole message (checksum field included) folds to 0.
void expect_l4_checksum_valid(const Bytes& pkt, bool with_pseudo) {
  size_t hl = ip_header_len(pkt);
  std::span<const uint8_t> l4(pkt.data() + hl, pkt.size() - hl);
  EXPECT_EQ(inet_checksum(l4, with_pseudo ? pseudo(pkt, l4.size()) : 0), 0);
}

TEST(Craft, InetChecksumRfc1071Example) {
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(inet_checksum(data), 0x220d);
  // Odd length: the last byte is padded with a zero byte.
  const uint8_t odd[] = {0x01, 0x02, 0x03};
  EXPECT_EQ(inet_checksum(odd), static_cast<uint16_t>(~(0x0102 + 0x0300)));
  EXPECT_EQ(inet_checksum({}), 0xffff);
  EXPECT_EQ(inet_checksum({}, 0x1234), static_cast<uint16_t>(~0x1234));
}

TEST(Craft, Ipv4HeaderFieldsAndChecksum) {
  IpOptions opt;
  opt.ttl = 33;
  opt.ipv4_id = 0xbeef;
  Bytes p = udp(ip("10.0.0.1"), 1234, ip("192.0.2.9"), 53, pattern(11), opt);
  ASSERT_EQ(p.size(), 20u + 8 + 11);
  EXPECT_EQ(p[0], 0x45);
  EXPECT_EQ(be16(p, 2), p.size());
  EXPECT_EQ(be16(p, 4), 0xbeef);
  EXPECT_EQ(be16(p, 6), 0);  // no DF, not a fragment
  EXPECT_EQ(p[8], 33);
  EXPECT_EQ(p[9], 17);
  EXPECT_EQ(inet_checksum({p.data(), 20}), 0);
  EXPECT_EQ(be32(p, 12), 0x0a000001u);
  EXPECT_EQ(be32(p, 16), 0xc0000209u);
}

TEST(Craft, UdpChecksumsValidateV4AndV6) {
  for (const char* pair : {"v4", "v6"}) {
    bool v6 = pair[1] == '6';
    IpAddr s = v6 ? ip("2001:db8::1") : ip("10.1.2.3");
    IpAddr d = v6 ? ip("fd00::53") : ip("198.51.100.7");
    for (size_t n : {0, 1, 2, 37, 1400}) {
      Bytes p = udp(s, 40000, d, 53, pattern(n));
      SCOPED_TRACE(std::string(pair) + " payload " + std::to_string(n));
      size_t hl = ip_header_len(p);
      ASSERT_EQ(p.size(), hl + 8 + n);
      EXPECT_EQ(be16(p, hl), 40000);
      EXPECT_EQ(be16(p, hl + 2), 53);
      EXPECT_EQ(be16(p, hl + 4), 8 + n);
      EXPECT_NE(be16(p, hl + 6), 0);  // 0 would mean "no checksum"
      expect_l4_checksum_valid(p, true);
      if (v6) {
        EXPECT_EQ(p[0] >> 4, 6);
        EXPECT_EQ(be16(p, 4), 8 + n);
        EXPECT_EQ(p[6], 17);
        EXPECT_EQ(p[7], 64);
      }
    }
  }
}

TEST(Craft, TcpHeaderAndChecksum) {
  for (bool v6 : {false, true}) {
    IpAddr s = v6 ? ip("fd00::1") : ip("10.0.0.1");
    IpAddr d = v6 ? ip("2001:db8::2") : ip("10.0.0.2");
    Bytes p = tcp(s, 5555, d, 443, 0x12, 0x01020304, 0xa0b0c0d0, pattern(13));
    size_t hl = ip_header_len(p);
    ASSERT_EQ(p.size(), hl + 20 + 13);
    EXPECT_EQ(be16(p, hl), 5555);
    EXPECT_EQ(be16(p, hl + 2), 443);
    EXPECT_EQ(be32(p, hl + 4), 0x01020304u);
    EXPECT_EQ(be32(p, hl + 8), 0xa0b0c0d0u);
    EXPECT_EQ(p[hl + 12], 0x50);
    EXPECT_EQ(p[hl + 13], 0x12);
    expect_l4_checksum_valid(p, true);
    if (!v6) {
      EXPECT_EQ(inet_checksum({p.data(), 20}), 0);
    }
  }
}

TEST(Craft, IcmpV4HasNoPseudoHeaderIcmpV6Has) {
  const uint8_t echo[] = {0x12, 0x34, 0x00, 0x01, 'p', 'i', 'n', 'g', '!'};
  Bytes p4 = icmp(ip("10.0.0.1"), ip("10.0.0.2"), 8, 0, echo);
  ASSERT_EQ(p4.size(), 20u + 4 + sizeof(echo));
  EXPECT_EQ(p4[9], 1);
  EXPECT_EQ(p4[20], 8);
  EXPECT_EQ(p4[21], 0);
  expect_l4_checksum_valid(p4, false);

  Bytes p6 = icmp(ip("fd00::1"), ip("fd00::2"), 128, 0, echo);
  ASSERT_EQ(p6.size(), 40u + 4 + sizeof(echo));
  EXPECT_EQ(p6[6], 58);
  EXPECT_EQ(p6[40], 128);
  expect_l4_checksum_valid(p6, true);
}

TEST(Craft, FixChecksumsRestoresCorruptedPackets) {
  std::vector<Bytes> packets = {
      tcp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 2, 0x18, 7, 8, pattern(99)),
      udp(ip("fd00::1"), 3, ip("fd00::2"), 4, pattern(5)),
      icmp(ip("10.9.9.9"), ip("10.8.8.8"), 0, 0, pattern(6)),
      icmp(ip("fd00::1"), ip("fd00::2"), 129, 0, pattern(7)),
  };
  for (const Bytes& good : packets) {
    Bytes bad = good;
    size_t hl = ip_header_len(bad);
    uint8_t proto = (bad[0] >> 4) == 4 ? bad[9] : bad[6];
    size_t at = proto == 6 ? 16 : proto == 17 ? 6 : 2;
    bad[hl + at] ^= 0x5a;
    bad[hl + at + 1] ^= 0xa5;
    if ((bad[0] >> 4) == 4) bad[10] ^= 0xff;
    ASSERT_NE(bad, good);
    ASSERT_TRUE(fix_checksums(bad));
    EXPECT_EQ(bad, good);
  }
  Bytes frag_v4 = fragment(udp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 2, pattern(100)), 48, 9)[0];
  EXPECT_FALSE(fix_checksums(frag_v4));
  Bytes short_pkt = {0x45, 0, 0, 20};
  EXPECT_FALSE(fix_checksums(short_pkt));
  Bytes not_ip = {0x75, 0, 0, 0};
  EXPECT_FALSE(fix_checksums(not_ip));
}

TEST(Craft, Ipv6ExtensionChainChecksumUsesUpperLayer) {
  // hop-by-hop (8 bytes of PadN) then UDP: the checksum covers only UDP.
  Bytes u = udp(ip("fd00::1"), 7, ip("fd00::2"), 9, pattern(10));
  Bytes l4 = {17, 0, 1, 4, 0, 0, 0, 0};
  l4.insert(l4.end(), u.begin() + 40, u.end());
  Bytes p = ip_packet(ip("fd00::1"), ip("fd00::2"), 0, l4);
  p[40 + 8 + 6] ^= 0xff;
  ASSERT_TRUE(fix_checksums(p));
  EXPECT_TRUE(std::equal(u.begin() + 40, u.end(), p.begin() + 48));
}

TEST(Craft, FragmentIpv4) {
  Bytes whole = udp(ip("10.0.0.1"), 1000, ip("10.0.0.2"), 2000, pattern(3000));
  auto frags = fragment(whole, 1000, 0x4242);  // 1000 is already a multiple of 8
  ASSERT_EQ(frags.size(), 4u);                 // 3008 bytes of IP payload
  Bytes data;
  for (size_t i = 0; i < frags.size(); ++i) {
    const Bytes& f = frags[i];
    SCOPED_TRACE(i);
    ASSERT_GE(f.size(), 20u);
    EXPECT_EQ(be16(f, 2), f.size());
    EXPECT_EQ(be16(f, 4), 0x4242);
    bool last = i + 1 == frags.size();
    EXPECT_EQ((be16(f, 6) & 0x2000) != 0, !last);
    EXPECT_EQ((be16(f, 6) & 0x1fff) * 8u, data.size());
    EXPECT_LE(f.size() - 20, 1000u);
    EXPECT_EQ(inet_checksum({f.data(), 20}), 0);
    data.insert(data.end(), f.begin() + 20, f.end());
  }
  EXPECT_TRUE(std::equal(data.begin(), data.end(), whole.begin() + 20, whole.end()));

  // Rounded down to a multiple of 8.
  auto odd = fragment(whole, 1003, 1);
  EXPECT_EQ(odd[0].size(), 20u + 1000);
  // Fits: returned as is.
  auto one = fragment(whole, 5000, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], whole);
  EXPECT_TRUE(fragment(whole, 7, 1).empty());
}

TEST(Craft, FragmentIpv6InsertsFragmentHeader) {
  Bytes whole = udp(ip("fd00::12"), 9000, ip("2001:db8::99"), 9001, pattern(2000));
  auto frags = fragment(whole, 1000, 0xdeadbeef);
  ASSERT_EQ(frags.size(), 3u);  // 2008 bytes; 992 per fragment
  Bytes data;
  for (size_t i = 0; i < frags.size(); ++i) {
    const Bytes& f = frags[i];
    SCOPED_TRACE(i);
    ASSERT_GE(f.size(), 48u);
    EXPECT_EQ(be16(f, 4), f.size() - 40);
    EXPECT_LE(f.size() - 40, 1000u);
    EXPECT_EQ(f[6], 44);
    EXPECT_EQ(f[40], 17);  // next header after the fragment header
    EXPECT_EQ(f[41], 0);
    uint16_t off = be16(f, 42);
    EXPECT_EQ(off & 0xfff8u, data.size());
    EXPECT_EQ((off & 1) != 0, i + 1 != frags.size());
    EXPECT_EQ(be32(f, 44), 0xdeadbeefu);
    data.insert(data.end(), f.begin() + 48, f.end());
  }
  EXPECT_TRUE(std::equal(data.begin(), data.end(), whole.begin() + 40, whole.end()));
}

TEST(Craft, FragmentIpv6KeepsHopByHopUnfragmentable) {
  Bytes u = udp(ip("fd00::1"), 7, ip("fd00::2"), 9, pattern(300));
  Bytes l4 = {60, 0, 1, 4, 0, 0, 0, 0,   // hop-by-hop, next: destination options
              17, 0, 1, 4, 0, 0, 0, 0};  // destination options (fragmentable), next: UDP
  l4.insert(l4.end(), u.begin() + 40, u.end());
  Bytes whole = ip_packet(ip("fd00::1"), ip("fd00::2"), 0, l4);
  ASSERT_TRUE(fix_checksums(whole));
  auto frags = fragment(whole, 128, 5);
  ASSERT_GT(frags.size(), 1u);
  Bytes data;
  for (const Bytes& f : frags) {
    EXPECT_EQ(f[6], 0);    // hop-by-hop stays first
    EXPECT_EQ(f[40], 44);  // and now points to the fragment header
    EXPECT_EQ(f[48], 60);  // which points to the destination options
    EXPECT_LE(f.size() - 40, 128u);
    EXPECT_EQ(be16(f, 4), f.size() - 40);
    data.insert(data.end(), f.begin() + 56, f.end());
  }
  EXPECT_TRUE(std::equal(data.begin(), data.end(), whole.begin() + 48, whole.end()));
}

TEST(Craft, LinkLayers) {
  Bytes v4 = udp(ip("10.0.0.1"), 1, ip("10.0.0.2"), 2, pattern(3));
  Bytes v6 = udp(ip("fd00::1"), 1, ip("fd00::2"), 2, pattern(3));

  Bytes e = ethernet(v4);
  ASSERT_EQ(e.size(), 14 + v4.size());
  EXPECT_EQ(be16(e, 12), 0x0800);
  EXPECT_TRUE(std::equal(v4.begin(), v4.end(), e.begin() + 14));
  EXPECT_EQ(be16(ethernet(v6), 12), 0x86dd);

  const uint16_t tags[] = {100, 0x2005};
  Bytes q = ethernet(v6, tags);
  ASSERT_EQ(q.size(), 22 + v6.size());
  EXPECT_EQ(be16(q, 12), 0x88a8);
  EXPECT_EQ(be16(q, 14), 100);
  EXPECT_EQ(be16(q, 16), 0x8100);
  EXPECT_EQ(be16(q, 18), 0x2005);
  EXPECT_EQ(be16(q, 20), 0x86dd);
  const uint16_t one_tag[] = {7};
  Bytes q1 = ethernet(v4, one_tag);
  EXPECT_EQ(be16(q1, 12), 0x8100);
  EXPECT_EQ(be16(q1, 16), 0x0800);

  Bytes s = linux_sll(v6);
  ASSERT_EQ(s.size(), 16 + v6.size());
  EXPECT_EQ(be16(s, 14), 0x86dd);
  EXPECT_EQ(be16(s, 2), 1);  // ARPHRD_ETHER
  EXPECT_TRUE(std::equal(v6.begin(), v6.end(), s.begin() + 16));

  Bytes s2 = linux_sll2(v4);
  ASSERT_EQ(s2.size(), 20 + v4.size());
  EXPECT_EQ(be16(s2, 0), 0x0800);
  EXPECT_EQ(be32(s2, 4), 1u);  // interface index
  EXPECT_TRUE(std::equal(v4.begin(), v4.end(), s2.begin() + 20));

  Bytes n4 = bsd_null(v4), n6 = bsd_null(v6);
  uint32_t af4, af6;
  std::memcpy(&af4, n4.data(), 4);
  std::memcpy(&af6, n6.data(), 4);
  EXPECT_EQ(af4, 2u);
  EXPECT_EQ(af6, 24u);
  EXPECT_TRUE(std::equal(v6.begin(), v6.end(), n6.begin() + 4));
}

// Cross-check with Wireshark's own checksum validation and reassembly.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tripline-craft-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_pcap(const std::string& file, int dlt, const std::vector<Bytes>& frames) {
  pcap_t* dead = pcap_open_dead(dlt, 65535);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* d = pcap_dump_open(dead, file.c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(dead);
  for (size_t i = 0; i < frames.size(); ++i) {
    pcap_pkthdr h{};
    h.ts.tv_sec = 1700000000 + static_cast<long>(i);
    h.caplen = h.len = static_cast<bpf_u_int32>(frames[i].size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, frames[i].data());
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// One line per frame: the fields below, '|'-separated.
std::vector<std::string> tshark_lines(const std::string& file) {
  std::string cmd = "tshark -n -r '" + file +
                    "' -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE"
                    " -o udp.check_checksum:TRUE -T fields -E separator='|' -E occurrence=a"
                    " -e frame.number -e ip.src -e ipv6.src -e ip.checksum.status"
                    " -e tcp.checksum.status -e udp.checksum.status -e icmp.checksum.status"
                    " -e icmpv6.checksum.status -e _ws.malformed -e _ws.expert.message"
                    " 2>/dev/null";
  std::vector<std::string> lines;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return lines;
  std::string cur;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) cur.append(buf, n);
  int rc = pclose(f);
  EXPECT_EQ(rc, 0) << "tshark failed on " << file;
  for (auto& line : split(cur, '\n'))
    if (!line.empty()) lines.push_back(line);
  return lines;
}

TEST(Craft, TsharkAgreesOnChecksums) {
  if (std::system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "tshark not installed";
  TempDir tmp;
  IpAddr a4 = ip("10.0.0.1"), b4 = ip("192.0.2.80");
  IpAddr a6 = ip("fd00::1"), b6 = ip("2001:db8::80");
  const uint8_t echo[] = {0, 1, 0, 1, 'a', 'b', 'c'};
  std::vector<Bytes> ip_packets = {
      tcp(a4, 40000, b4, 80, 0x02, 1000, 0, {}),
      tcp(b4, 80, a4, 40000, 0x12, 5000, 1001, {}),
      tcp(a4, 40000, b4, 80, 0x18, 1001, 5001, pattern(123)),
      udp(a4, 33333, b4, 44444, pattern(1)),
      udp(a4, 1, b4, 9, {}),
      icmp(a4, b4, 8, 0, echo),
      icmp(b4, a4, 0, 0, echo),
      tcp(a6, 40001, b6, 443, 0x02, 77, 0, {}),
      tcp(a6, 40001, b6, 443, 0x18, 78, 99, pattern(1001)),
      udp(a6, 4444, b6, 5555, pattern(17)),
      icmp(a6, b6, 128, 0, echo),
      icmp(b6, a6, 129, 0, echo),
  };
  std::vector<Bytes> with_frags = ip_packets;
  for (const Bytes& f : fragment(udp(a4, 7000, b4, 7001, pattern(2500)), 1000, 0x1234))
    with_frags.push_back(f);
  for (const Bytes& f : fragment(udp(a6, 7000, b6, 7001, pattern(2500)), 1000, 0x55667788))
    with_frags.push_back(f);

  struct Case {
    const char* name;
    int dlt;
    Bytes (*frame)(std::span<const uint8_t>);
  };
  static const uint16_t kTags[] = {10, 20};
  const Case cases[] = {
      {"ethernet", DLT_EN10MB, [](std::span<const uint8_t> p) { return ethernet(p); }},
      {"vlan", DLT_EN10MB, [](std::span<const uint8_t> p) { return ethernet(p, kTags); }},
      {"sll", DLT_LINUX_SLL, linux_sll},
      {"sll2", DLT_LINUX_SLL2, linux_sll2},
      {"null", DLT_NULL, bsd_null},
      {"raw", DLT_RAW, [](std::span<const uint8_t> p) { return Bytes(p.begin(), p.end()); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Bytes> frames;
    for (const Bytes& p : with_frags) frames.push_back(c.frame(p));
    std::string file = (tmp.path() / (std::string(c.name) + ".pcap")).string();
    write_pcap(file, c.dlt, frames);
    auto lines = tshark_lines(file);
    ASSERT_EQ(lines.size(), frames.size());
    size_t good[8] = {};  // per checksum-status field
    for (const std::string& line : lines) {
      SCOPED_TRACE(line);
      auto f = split(line, '|');
      ASSERT_EQ(f.size(), 10u);
      EXPECT_TRUE(!f[1].empty() || !f[2].empty()) << "not decoded as IP";
      for (size_t i = 3; i <= 7; ++i)
        for (const std::string& status : split(f[i], ','))
          EXPECT_TRUE(status.empty() || status == "1") << "checksum status " << status;
      for (size_t i = 3; i <= 7; ++i) good[i] += f[i] == "1";
      EXPECT_TRUE(f[8].empty()) << "malformed";
      EXPECT_EQ(f[9].find("hecksum"), std::string::npos);
      EXPECT_EQ(f[9].find("alformed"), std::string::npos);
    }
    EXPECT_EQ(good[3], 10u);  // IPv4 headers: 7 packets and 3 fragments
    EXPECT_EQ(good[4], 5u);   // TCP
    EXPECT_EQ(good[5], 5u);   // UDP: 3 datagrams plus the two reassembled ones
    EXPECT_EQ(good[6], 2u);   // ICMP
    EXPECT_EQ(good[7], 2u);   // ICMPv6
  }
}

}  // namespace
}  // namespace tripline::craft
