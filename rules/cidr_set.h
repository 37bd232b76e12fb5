// A set of IPv4/IPv6 prefixes ("10.0.0.0/8", "fd00::/8", "192.0.2.1") with a
// longest-prefix-agnostic membership test: contains(addr) is true when any
// prefix covers addr. A small set (up to kScanMax prefixes of a family, such as
// [network] inside) is scanned: two 64-bit masks and compares per prefix, no
// hashing. A larger one hashes once per distinct prefix length present.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ip_address.h"

namespace tripline {

struct Cidr {
  IpAddr addr;         // masked network address
  uint8_t length = 0;  // prefix length in bits
  // "a.b.c.d", "a.b.c.d/n", "v6", "v6/n". Host bits set is accepted and masked.
  static std::optional<Cidr> parse(std::string_view text);
  std::string to_string() const;
};

class CidrSet {
 public:
  static constexpr size_t kScanMax = 16;  // per family: scanned up to this many prefixes

  void add(const Cidr& c);
  bool contains(const IpAddr& a) const;
  bool empty() const { return prefixes_.empty(); }
  const std::vector<Cidr>& prefixes() const { return prefixes_; }

 private:
  // A prefix as two masked 64-bit words and the mask (bytes in address order).
  struct Masked {
    uint64_t net[2];
    uint64_t mask[2];
  };
  std::vector<Cidr> prefixes_;
  std::vector<Masked> scan_[2];  // per family, while it holds at most kScanMax
  // Per family (0: v4, 1: v6) and prefix length: the masked networks.
  absl::flat_hash_set<IpAddr> by_len_[2][129];
  std::vector<uint8_t> lengths_[2];  // distinct lengths present, longest first
};

// Keeps the first `bits` bits of a, zeroes the rest.
IpAddr mask_address(const IpAddr& a, unsigned bits);

}  // namespace tripline
