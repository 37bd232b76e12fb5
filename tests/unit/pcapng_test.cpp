// pcapng recordings: the block framing read back block by block, and a
// CaptureWriter file with its section comment, interface name, nanosecond
// stamps, packet comments and name resolution block, read back here and by
// libpcap.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "capture_test_util.h"
#include "capture_writer.h"
#include "pcapng_blocks.h"

namespace tripline {
namespace {

using capture_test::file_of;
using capture_test::read_pcap;
using capture_test::TempDir;

constexpr Timestamp kT0 =
    1'767'225'600LL * kNsPerSec + 123'456'789;  // 2026-01-01T00:00:00.123456789Z

struct Block {
  uint32_t type = 0;
  std::vector<uint8_t> body;  // between the two length fields
};

uint32_t u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint16_t u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Splits a pcapng byte string into blocks, checking the framing: both length
// fields agree, lengths are multiples of 4, nothing is left over.
std::vector<Block> split(const std::vector<uint8_t>& bytes) {
  std::vector<Block> out;
  size_t at = 0;
  while (at < bytes.size()) {
    EXPECT_GE(bytes.size() - at, 12u) << "short block at " << at;
    if (bytes.size() - at < 12) break;
    uint32_t type = u32(&bytes[at]);
    uint32_t len = u32(&bytes[at + 4]);
    EXPECT_EQ(len % 4, 0u) << "block at " << at;
    EXPECT_LE(len, bytes.size() - at) << "block at " << at;
    if (len < 12 || len > bytes.size() - at) break;
    EXPECT_EQ(u32(&bytes[at + len - 4]), len) << "trailing length of the block at " << at;
    out.push_back(
        {type, std::vector<uint8_t>(bytes.begin() + at + 8, bytes.begin() + at + len - 4)});
    at += len;
  }
  EXPECT_EQ(at, bytes.size());
  return out;
}

// Options from `from` in a block body: code -> values.
std::multimap<uint16_t, std::string> options(const std::vector<uint8_t>& body, size_t from) {
  std::multimap<uint16_t, std::string> out;
  size_t at = from;
  bool ended = false;
  while (at + 4 <= body.size()) {
    uint16_t code = u16(&body[at]), len = u16(&body[at + 2]);
    if (code == pcapng::kOptEnd) {
      ended = true;
      break;
    }
    EXPECT_LE(at + 4 + len, body.size());
    out.emplace(code, std::string(body.begin() + at + 4, body.begin() + at + 4 + len));
    at += 4 + pcapng::padded(len);
  }
  EXPECT_TRUE(ended || at == body.size()) << "options not ended";
  return out;
}

struct NameEntry {
  int family = 0;
  std::string addr;
  std::vector<std::string> names;
};
std::vector<NameEntry> name_records(const std::vector<uint8_t>& body) {
  std::vector<NameEntry> out;
  size_t at = 0;
  while (at + 4 <= body.size()) {
    uint16_t type = u16(&body[at]), len = u16(&body[at + 2]);
    if (type == 0) break;
    NameEntry e;
    e.family = type == 1 ? 4 : 6;
    size_t alen = type == 1 ? 4 : 16;
    EXPECT_GE(len, alen + 2);
    IpAddr a = type == 1 ? IpAddr::v4(&body[at + 4]) : IpAddr::v6(&body[at + 4]);
    e.addr = a.to_string();
    std::string rest(body.begin() + at + 4 + alen, body.begin() + at + 4 + len);
    EXPECT_EQ(rest.back(), '\0');
    size_t s = 0;
    while (s < rest.size()) {
      size_t z = rest.find('\0', s);
      e.names.push_back(rest.substr(s, z - s));
      s = z + 1;
    }
    out.push_back(e);
    at += 4 + pcapng::padded(len);
  }
  return out;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<uint8_t> ipv4_udp(uint8_t last_src, uint8_t last_dst, size_t len) {
  std::vector<uint8_t> p(len, 0);
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(len >> 8);
  p[3] = static_cast<uint8_t>(len);
  p[8] = 64;
  p[9] = 17;
  uint8_t src[4] = {10, 0, 0, last_src}, dst[4] = {192, 0, 2, last_dst};
  std::memcpy(&p[12], src, 4);
  std::memcpy(&p[16], dst, 4);
  return p;
}

TEST(PcapngBlocksTest, BlocksFrameAndReadBack) {
  std::vector<uint8_t> out;
  pcapng::append_section_header(out, "why: a test", "tripline 0.1.0");
  pcapng::append_interface(out, pcapng::kLinktypeRaw, 65535, "nfqueue7");
  std::vector<std::string> names = {"www.example.com", "example.com"};
  std::vector<std::string> none;
  IpAddr v4 = *IpAddr::parse("192.0.2.1"), v6 = *IpAddr::parse("2001:db8::1");
  pcapng::NameRecord recs[] = {{v4, names}, {v6, std::span(names).first(1)}, {v4, none}};
  pcapng::append_names(out, recs);
  std::vector<uint8_t> pkt = {1, 2, 3, 4, 5};  // 5 bytes: padded to 8
  pcapng::append_packet(out, kT0, pkt, 1500, "verdict: drop; reason: x");
  pcapng::append_packet(out, kT0 + 1, pkt, 0);

  std::vector<Block> blocks = split(out);
  ASSERT_EQ(blocks.size(), 5u);
  // Section header: magic, version 1.0, unknown section length, options.
  ASSERT_EQ(blocks[0].type, pcapng::kSectionHeader);
  EXPECT_EQ(u32(&blocks[0].body[0]), pcapng::kByteOrderMagic);
  EXPECT_EQ(u16(&blocks[0].body[4]), 1u);
  EXPECT_EQ(u16(&blocks[0].body[6]), 0u);
  auto shb = options(blocks[0].body, 16);
  EXPECT_EQ(shb.find(pcapng::kOptComment)->second, "why: a test");
  EXPECT_EQ(shb.find(pcapng::kShbUserAppl)->second, "tripline 0.1.0");
  // Interface: raw IP, snaplen, name, nanoseconds.
  ASSERT_EQ(blocks[1].type, pcapng::kInterfaceDescription);
  EXPECT_EQ(u16(&blocks[1].body[0]), 101u);
  EXPECT_EQ(u32(&blocks[1].body[4]), 65535u);
  auto idb = options(blocks[1].body, 8);
  EXPECT_EQ(idb.find(pcapng::kIfName)->second, "nfqueue7");
  EXPECT_EQ(idb.find(pcapng::kIfTsresol)->second, std::string(1, '\x09'));
  // Names: both addresses, the empty record left out.
  ASSERT_EQ(blocks[2].type, pcapng::kNameResolution);
  auto nrb = name_records(blocks[2].body);
  ASSERT_EQ(nrb.size(), 2u);
  EXPECT_EQ(nrb[0].addr, "192.0.2.1");
  EXPECT_EQ(nrb[0].names, names);
  EXPECT_EQ(nrb[1].addr, "2001:db8::1");
  EXPECT_EQ(nrb[1].names, std::vector<std::string>{"www.example.com"});
  // Packets: interface 0, the 64-bit nanosecond stamp, lengths, data, comment.
  ASSERT_EQ(blocks[3].type, pcapng::kEnhancedPacket);
  const auto& epb = blocks[3].body;
  EXPECT_EQ(u32(&epb[0]), 0u);
  uint64_t ts = (uint64_t{u32(&epb[4])} << 32) | u32(&epb[8]);
  EXPECT_EQ(ts, static_cast<uint64_t>(kT0));
  EXPECT_EQ(u32(&epb[12]), 5u);
  EXPECT_EQ(u32(&epb[16]), 1500u);
  EXPECT_EQ(std::vector<uint8_t>(epb.begin() + 20, epb.begin() + 25), pkt);
  EXPECT_EQ(options(epb, 28).find(pcapng::kOptComment)->second, "verdict: drop; reason: x");
  EXPECT_EQ(blocks[4].body.size(), 20u + 8u);  // no options at all
  EXPECT_EQ(u32(&blocks[4].body[16]), 5u);     // orig_len 0: the captured length

  // Nothing to name: no block.
  std::vector<uint8_t> empty;
  pcapng::NameRecord nothing[] = {{v4, none}};
  pcapng::append_names(empty, nothing);
  EXPECT_TRUE(empty.empty());
}

TEST(PcapngWriterTest, FileExplainsItselfAndLibpcapReadsIt) {
  TempDir tmp;
  CaptureConfig cfg;
  cfg.dir = tmp.path();
  cfg.ring_bytes = 1u << 20;
  cfg.snaplen = 1000;
  CaptureWriterOptions opts;
  opts.interfaces = {"nfqueue3"};
  int lookups = 0;
  opts.names = [&lookups](const IpAddr& a) {
    ++lookups;
    if (a.to_string() == "192.0.2.1") return std::vector<std::string>{"www.example.com"};
    return std::vector<std::string>{};
  };
  std::string path;
  {
    CaptureWriter writer(cfg, 1, opts);
    ASSERT_TRUE(writer.open(0, 1, "label", kT0, "tripline recording\ntrigger: rule x"));
    for (uint8_t i = 0; i < 4; ++i) {
      std::string comment = i == 0 ? "trigger packet: rule x; verdict: drop; reason: r" : "";
      ASSERT_TRUE(writer.write(0, 1, kT0 + i, ipv4_udp(2, 1, 60 + i), 0, comment));
    }
    ASSERT_TRUE(writer.close(0, 1));
    writer.flush();
    path = file_of(writer.files(), 0, 1);
  }
  ASSERT_TRUE(path.ends_with(".pcapng")) << path;
  // Each address once at its first packet, and 10.0.0.2 (no name then) once
  // more as the file ends.
  EXPECT_EQ(lookups, 3);
  std::vector<Block> blocks = split(read_all(path));
  ASSERT_GE(blocks.size(), 7u);
  EXPECT_EQ(options(blocks[0].body, 16).find(pcapng::kOptComment)->second,
            "tripline recording\ntrigger: rule x");
  EXPECT_EQ(options(blocks[1].body, 8).find(pcapng::kIfName)->second, "nfqueue3");
  // The names come before the first packet that carries the address.
  ASSERT_EQ(blocks[2].type, pcapng::kNameResolution);
  auto nrb = name_records(blocks[2].body);
  ASSERT_EQ(nrb.size(), 1u);
  EXPECT_EQ(nrb[0].addr, "192.0.2.1");
  EXPECT_EQ(nrb[0].names, std::vector<std::string>{"www.example.com"});
  ASSERT_EQ(blocks[3].type, pcapng::kEnhancedPacket);
  EXPECT_EQ(options(blocks[3].body, 20 + pcapng::padded(60)).find(pcapng::kOptComment)->second,
            "trigger packet: rule x; verdict: drop; reason: r");
  for (size_t b = 4; b < 7; ++b) {
    EXPECT_EQ(blocks[b].type, pcapng::kEnhancedPacket);
    EXPECT_EQ(blocks[b].body.size(), 20 + pcapng::padded(61 + (b - 4)));  // no comment
  }

  auto pcap = read_pcap(path);  // libpcap reads pcapng
  ASSERT_TRUE(pcap.ok) << pcap.error;
  EXPECT_EQ(pcap.linktype, DLT_RAW);
  ASSERT_EQ(pcap.records.size(), 4u);
  for (uint8_t i = 0; i < 4; ++i) {
    EXPECT_EQ(pcap.records[i].ts, kT0 + i);
    EXPECT_EQ(pcap.records[i].bytes, ipv4_udp(2, 1, 60 + i));
  }
}

// The pcap format stays as it was: no comments, no names, a classic header.
TEST(PcapngWriterTest, PcapFormatWritesClassicPcap) {
  TempDir tmp;
  CaptureConfig cfg;
  cfg.dir = tmp.path();
  cfg.ring_bytes = 1u << 20;
  cfg.format = CaptureFormat::Pcap;
  CaptureWriterOptions opts;
  opts.names = [](const IpAddr&) { return std::vector<std::string>{"x.example"}; };
  std::string path;
  {
    CaptureWriter writer(cfg, 1, opts);
    ASSERT_TRUE(writer.open(0, 1, "", kT0, "a comment"));
    ASSERT_TRUE(writer.write(0, 1, kT0, ipv4_udp(2, 1, 60), 0, "a packet comment"));
    ASSERT_TRUE(writer.close(0, 1));
    writer.flush();
    path = file_of(writer.files(), 0, 1);
  }
  ASSERT_TRUE(path.ends_with(".pcap")) << path;
  auto bytes = read_all(path);
  ASSERT_EQ(bytes.size(), 24u + 16u + 60u);
  EXPECT_EQ(u32(&bytes[0]), 0xa1b23c4du);  // nanosecond pcap
}

}  // namespace
}  // namespace tripline
