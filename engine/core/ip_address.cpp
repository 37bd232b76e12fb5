#include "ip_address.h"

#include <arpa/inet.h>

namespace tripline {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = 6;
    return a;
  }
  return std::nullopt;
}

size_t IpAddr::format(char* buf) const {
  if (family == 0) {
    buf[0] = '\0';
    return 0;
  }
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, INET6_ADDRSTRLEN);
  return std::strlen(buf);
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  size_t n = format(buf);
  return std::string(buf, n);
}

}  // namespace tripline
