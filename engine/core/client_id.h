// Who a client is: a host (the link-layer address its packets come from on a
// directly attached network, so its IPv4 and rotating IPv6 addresses are one
// client) or, where no link-layer address is known, its IP address.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ip_address.h"

namespace tripline {

// An Ethernet (EUI-48) address; all zeros means "not known".
struct MacAddr {
  std::array<uint8_t, 6> bytes{};

  bool known() const { return bytes != std::array<uint8_t, 6>{}; }
  // "aa:bb:cc:dd:ee:ff" (hex digits in either case); nullopt otherwise.
  static std::optional<MacAddr> parse(std::string_view text);
  // Writes "aa:bb:cc:dd:ee:ff" into buf (at least 18 bytes); returns 17.
  size_t format(char* buf) const;
  std::string to_string() const;

  friend bool operator==(const MacAddr&, const MacAddr&) = default;
  friend auto operator<=>(const MacAddr&, const MacAddr&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const MacAddr& m) {
    return H::combine_contiguous(std::move(h), m.bytes.data(), m.bytes.size());
  }
};

// A client: nobody (the global scope), an address, or a host. Plain value,
// hashable, never allocates.
struct ClientId {
  enum class Kind : uint8_t { None = 0, Address = 1, Host = 2 };
  Kind kind = Kind::None;
  IpAddr addr;  // Address
  MacAddr mac;  // Host

  static ClientId address(const IpAddr& a) {
    ClientId c;
    if (a.family != 0) {
      c.kind = Kind::Address;
      c.addr = a;
    }
    return c;
  }
  static ClientId host(const MacAddr& m) {
    ClientId c;
    if (m.known()) {
      c.kind = Kind::Host;
      c.mac = m;
    }
    return c;
  }
  bool none() const { return kind == Kind::None; }
  bool is_host() const { return kind == Kind::Host; }

  // An address as IpAddr::parse reads it, else a MAC as MacAddr::parse does.
  static std::optional<ClientId> parse(std::string_view text);
  // The address's or the MAC's text form; "" for None. buf: at least 46 bytes.
  size_t format(char* buf) const;
  std::string to_string() const;

  friend bool operator==(const ClientId&, const ClientId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ClientId& c) {
    return H::combine(std::move(h), c.kind, c.addr, c.mac);
  }
};

}  // namespace tripline
