#include "client_id.h"

namespace tripline {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddr m;
  for (size_t i = 0; i < 6; ++i) {
    int hi = hex_value(text[i * 3]), lo = hex_value(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) return std::nullopt;
    m.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return m;
}

size_t MacAddr::format(char* buf) const {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < 6; ++i) {
    buf[i * 3] = kHex[bytes[i] >> 4];
    buf[i * 3 + 1] = kHex[bytes[i] & 0xf];
    buf[i * 3 + 2] = i < 5 ? ':' : '\0';
  }
  return 17;
}

std::string MacAddr::to_string() const {
  char buf[18];
  return std::string(buf, format(buf));
}

std::optional<ClientId> ClientId::parse(std::string_view text) {
  if (auto a = IpAddr::parse(text)) return address(*a);
  if (auto m = MacAddr::parse(text); m && m->known()) return host(*m);
  return std::nullopt;
}

size_t ClientId::format(char* buf) const {
  switch (kind) {
    case Kind::Address:
      return addr.format(buf);
    case Kind::Host:
      return mac.format(buf);
    case Kind::None:
      break;
  }
  buf[0] = '\0';
  return 0;
}

std::string ClientId::to_string() const {
  char buf[48];
  return std::string(buf, format(buf));
}

}  // namespace tripline
