#include "community_id.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include <cstring>
#include <utility>

namespace tripline {
namespace {

constexpr uint8_t kIcmp = 1, kIcmp6 = 58;

// The spec's ICMP "port equivalents": a request/reply type pair hashes as one
// flow (type, counterpart type); other messages are one-way (type, code).
bool icmp_counterpart(uint8_t proto, uint16_t type, uint16_t* other) {
  static constexpr std::pair<uint16_t, uint16_t> kV4[] = {
      {8, 0}, {0, 8}, {13, 14}, {14, 13}, {15, 16}, {16, 15}, {10, 9}, {9, 10}, {17, 18}, {18, 17}};
  static constexpr std::pair<uint16_t, uint16_t> kV6[] = {
      {128, 129}, {129, 128}, {133, 134}, {134, 133}, {135, 136}, {136, 135},
      {130, 131}, {131, 130}, {144, 145}, {145, 144}, {139, 140}, {140, 139}};
  auto find = [&](const auto& table) {
    for (const auto& [a, b] : table) {
      if (a == type) {
        *other = b;
        return true;
      }
    }
    return false;
  };
  return proto == kIcmp ? find(kV4) : find(kV6);
}

}  // namespace

size_t community_id_v1(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
                       uint8_t proto, char* out, uint16_t seed) {
  if (src.family != dst.family || src.family == 0) return 0;
  bool one_way = false;
  if (proto == kIcmp || proto == kIcmp6) {
    uint16_t other = 0;
    if (icmp_counterpart(proto, sport, &other)) {
      dport = other;
    } else {
      one_way = true;  // keeps (type, code) and the packet's order
    }
  }
  size_t n = src.size();
  const IpAddr* a = &src;
  const IpAddr* b = &dst;
  int cmp = std::memcmp(a->bytes.data(), b->bytes.data(), n);
  if (!one_way && (cmp > 0 || (cmp == 0 && sport > dport))) {
    std::swap(a, b);
    std::swap(sport, dport);
  }
  uint8_t buf[2 + 16 + 16 + 2 + 4];
  size_t len = 0;
  buf[len++] = static_cast<uint8_t>(seed >> 8);
  buf[len++] = static_cast<uint8_t>(seed);
  std::memcpy(buf + len, a->bytes.data(), n);
  len += n;
  std::memcpy(buf + len, b->bytes.data(), n);
  len += n;
  buf[len++] = proto;
  buf[len++] = 0;
  bool ports = proto == 6 || proto == 17 || proto == 132 || proto == kIcmp || proto == kIcmp6;
  if (ports) {
    buf[len++] = static_cast<uint8_t>(sport >> 8);
    buf[len++] = static_cast<uint8_t>(sport);
    buf[len++] = static_cast<uint8_t>(dport >> 8);
    buf[len++] = static_cast<uint8_t>(dport);
  }
  sha1_ctx ctx;
  sha1_init(&ctx);
  sha1_update(&ctx, len, buf);
  uint8_t digest[SHA1_DIGEST_SIZE];
  sha1_digest(&ctx, sizeof digest, digest);
  out[0] = '1';
  out[1] = ':';
  static_assert(BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) + 2 == kCommunityIdLen);
  base64_encode_raw(out + 2, sizeof digest, digest);
  return kCommunityIdLen;
}

}  // namespace tripline
