// Shared by the live benchmark's little traffic programs (udp_flood, udp_ping,
// tcp_connect, tcp_bulk): a numeric IPv4/IPv6 address and a port as a socket
// address, and a listening TCP socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

struct SocketAddress {
  sockaddr_storage ss = {};
  socklen_t len = 0;
  int family = AF_INET;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

// Nullopt unless `ip` is a numeric IPv4 or IPv6 address.
inline std::optional<SocketAddress> parse_socket_address(const std::string& ip, uint16_t port) {
  SocketAddress a;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

// A TCP socket listening on `port` on every IPv4 and IPv6 address (one
// dual-stack socket). -1 with errno set when a step fails; *failed names it.
inline int listen_tcp_any(uint16_t port, int backlog, const char** failed) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return *failed = "socket", -1;
  int zero = 0, one = 1;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in6 a = {};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_any;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return *failed = "bind", -1;
  if (listen(fd, backlog) < 0) return *failed = "listen", -1;
  return fd;
}

// The next connection on a listening socket, waiting past what a busy server
// sees and survives (a signal, a client gone before its accept, no file
// descriptor free for a moment); -1 with errno set on anything else.
inline int accept_next(int listen_fd) {
  for (;;) {
    int c = accept(listen_fd, nullptr, nullptr);
    if (c >= 0) return c;
    if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE && errno != ENFILE) return -1;
  }
}
