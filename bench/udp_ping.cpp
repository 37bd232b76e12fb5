// UDP ping-pong for bench/live_bench.sh: round-trip times of small datagrams
// through the gateway, to measure the latency a queue adds.
//
//   udp_ping --echo PORT                  echo every datagram back (IPv4 and IPv6), forever
//   udp_ping --dest ADDR --port N [--count N] [--interval-us N] [--size BYTES] [--timeout-ms N]
// The client sends one datagram, waits for its echo (or the timeout), and
// sends the next after the interval; it prints "sent", "lost", and the
// round-trip times "rtt_p50_us", "rtt_p90_us", "rtt_p99_us", "rtt_max_us".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "socket_address.h"
#include "tool_options.h"

namespace {

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --echo PORT\n"
               "       %s --dest ADDR --port N [--count N] [--interval-us N] [--size BYTES] "
               "[--timeout-ms N]\n",
               argv0, argv0);
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "udp_ping: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int echo(uint16_t port) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int zero = 0;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 a = {};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_any;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die("bind");
  uint8_t buf[65536];
  for (;;) {
    sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recvfrom");
    }
    sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer), plen);
  }
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string dest;
  unsigned long port = 0, echo_port = 0, count = 1000, interval_us = 1000, size = 64,
                timeout_ms = 500;
  ToolOptions opts;
  opts.text = {{"--dest", &dest}};
  opts.number = {{"--echo", &echo_port},          {"--port", &port}, {"--count", &count},
                 {"--interval-us", &interval_us}, {"--size", &size}, {"--timeout-ms", &timeout_ms}};
  if (!opts.parse(argc, argv)) usage(argv[0]);
  if (echo_port != 0) {
    if (echo_port > 65535) usage(argv[0]);
    return echo(static_cast<uint16_t>(echo_port));
  }
  if (dest.empty() || port == 0 || port > 65535 || count == 0 || size < 8 || size > 65000) {
    usage(argv[0]);
  }

  auto addr = parse_socket_address(dest, static_cast<uint16_t>(port));
  if (!addr) usage(argv[0]);
  const int family = addr->family;
  int fd = socket(family, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, addr->get(), addr->len) < 0) die("connect");

  std::vector<uint8_t> out(size, 0), in(65536);
  std::vector<double> rtts;
  rtts.reserve(count);
  uint64_t lost = 0;
  using clock = std::chrono::steady_clock;
  auto next = clock::now();
  for (uint64_t seq = 0; seq < count; ++seq) {
    std::memcpy(out.data(), &seq, sizeof seq);
    const auto t0 = clock::now();
    if (send(fd, out.data(), out.size(), 0) < 0) {
      ++lost;  // e.g. ECONNREFUSED from an earlier ICMP error
    } else {
      const auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
      bool got = false;
      while (!got) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() < 0) break;
        pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) break;
        ssize_t n = recv(fd, in.data(), in.size(), 0);
        if (n < static_cast<ssize_t>(sizeof seq)) continue;
        uint64_t echoed = 0;
        std::memcpy(&echoed, in.data(), sizeof echoed);
        if (echoed == seq) got = true;  // late echoes of earlier pings are skipped
      }
      if (got) {
        rtts.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
      } else {
        ++lost;
      }
    }
    next += std::chrono::microseconds(interval_us);
    std::this_thread::sleep_until(next);
  }
  close(fd);
  std::sort(rtts.begin(), rtts.end());
  std::printf(
      "sent %lu\nlost %llu\nrtt_p50_us %.1f\nrtt_p90_us %.1f\nrtt_p99_us %.1f\n"
      "rtt_max_us %.1f\n",
      count, static_cast<unsigned long long>(lost), percentile(rtts, 0.50), percentile(rtts, 0.90),
      percentile(rtts, 0.99), rtts.empty() ? 0.0 : rtts.back());
  return 0;
}
