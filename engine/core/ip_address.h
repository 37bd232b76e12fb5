// An IPv4 or IPv6 address as a value type: parse, print, compare and hash.
// IPv4 addresses keep their four bytes at the front of the 16-byte array.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace tripline {

struct IpAddr {
  std::array<uint8_t, 16> bytes{};
  uint8_t family = 0;  // 4, 6, or 0 for "no address"

  static IpAddr v4(const uint8_t* p) {
    IpAddr a;
    std::memcpy(a.bytes.data(), p, 4);
    a.family = 4;
    return a;
  }
  static IpAddr v6(const uint8_t* p) {
    IpAddr a;
    std::memcpy(a.bytes.data(), p, 16);
    a.family = 6;
    return a;
  }
  // Accepts dotted-quad IPv4 and any inet_pton IPv6 form; nullopt otherwise.
  static std::optional<IpAddr> parse(std::string_view text);

  bool is_v4() const { return family == 4; }
  bool is_v6() const { return family == 6; }
  size_t size() const { return family == 4 ? 4 : 16; }
  std::string to_string() const;
  // Writes the text form into buf (at least 46 bytes); returns its length.
  size_t format(char* buf) const;

  friend bool operator==(const IpAddr&, const IpAddr&) = default;
  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddr& a) {
    return H::combine(H::combine_contiguous(std::move(h), a.bytes.data(), a.bytes.size()),
                      a.family);
  }
};

}  // namespace tripline
