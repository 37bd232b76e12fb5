#include "cidr_set.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace tripline {

namespace {

// The first `bits` bits of 16 address bytes set, as two words in memory order.
void mask_words(unsigned bits, uint64_t out[2]) {
  uint8_t m[16] = {};
  for (unsigned i = 0; i < 16 && bits > 0; ++i) {
    unsigned take = std::min(bits, 8u);
    m[i] = static_cast<uint8_t>(0xff00 >> take);
    bits -= take;
  }
  std::memcpy(out, m, sizeof m);
}

}  // namespace

IpAddr mask_address(const IpAddr& a, unsigned bits) {
  IpAddr m = a;
  unsigned total = a.is_v4() ? 32 : 128;
  for (unsigned i = 0; i < 16; ++i) {
    unsigned lo = i * 8;
    if (lo >= total || lo >= bits) {
      m.bytes[i] = 0;
    } else if (bits < lo + 8) {
      m.bytes[i] &= static_cast<uint8_t>(0xff << (lo + 8 - bits));
    }
  }
  return m;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned max = addr->is_v4() ? 32 : 128;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || len > max)
      return std::nullopt;
  }
  return Cidr{mask_address(*addr, len), static_cast<uint8_t>(len)};
}

std::string Cidr::to_string() const { return addr.to_string() + "/" + std::to_string(length); }

void CidrSet::add(const Cidr& c) {
  int f = c.addr.is_v4() ? 0 : 1;
  prefixes_.push_back(c);
  by_len_[f][c.length].insert(c.addr);
  Masked m{};
  std::memcpy(m.net, c.addr.bytes.data(), sizeof m.net);
  mask_words(c.length, m.mask);
  if (scan_[f].size() <= kScanMax) scan_[f].push_back(m);  // past that: hashed only
  auto& lens = lengths_[f];
  if (std::find(lens.begin(), lens.end(), c.length) == lens.end()) {
    lens.push_back(c.length);
    std::sort(lens.begin(), lens.end(), std::greater<>());
  }
}

bool CidrSet::contains(const IpAddr& a) const {
  if (a.family == 0) return false;
  int f = a.is_v4() ? 0 : 1;
  if (scan_[f].size() <= kScanMax) {
    uint64_t w[2];
    std::memcpy(w, a.bytes.data(), sizeof w);
    for (const Masked& m : scan_[f])
      if ((w[0] & m.mask[0]) == m.net[0] && (w[1] & m.mask[1]) == m.net[1]) return true;
    return false;
  }
  for (uint8_t len : lengths_[f]) {
    if (by_len_[f][len].contains(mask_address(a, len))) return true;
  }
  return false;
}

}  // namespace tripline
