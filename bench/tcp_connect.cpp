// TCP connection setups for bench/live_bench.sh: how many new connections per
// second get through the gateway (each one a new flow for the queue consumer).
//
//   tcp_connect --listen PORT             accept and close connections (IPv4 and IPv6), forever
//   tcp_connect --dest ADDR --port N [--seconds S] [--threads N] [--count N] [--timeout-ms N]
//               [--interval-us N]
// The client runs N threads, each connecting, and on success closing at once
// with a reset (SO_LINGER 0, so no TIME_WAIT piles up), until the time is up
// or --count connections were tried; with --interval-us each thread starts a
// connection at most every N microseconds (paced, for latency). It prints
// "connected", "failed", "seconds", "connects_per_s" and the time connect()
// took for the connections that succeeded: "connect_p50_us", "connect_p90_us",
// "connect_p99_us", "connect_max_us" on stdout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "socket_address.h"
#include "tool_options.h"

namespace {

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --listen PORT\n"
               "       %s --dest ADDR --port N [--seconds S] [--threads N] [--count N] "
               "[--timeout-ms N] [--interval-us N]\n",
               argv0, argv0);
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tcp_connect: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int listen_forever(uint16_t port) {
  const char* failed = "";
  int fd = listen_tcp_any(port, 4096, &failed);
  if (fd < 0) die(failed);
  for (;;) {
    int c = accept_next(fd);
    if (c < 0) die("accept");
    close(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dest;
  unsigned long port = 0, listen_port = 0, threads = 4, count = 0, timeout_ms = 1000,
                interval_us = 0;
  double seconds = 5;
  ToolOptions opts;
  opts.text = {{"--dest", &dest}};
  opts.positive = {{"--seconds", &seconds}};
  opts.number = {{"--listen", &listen_port},    {"--port", &port},
                 {"--threads", &threads},       {"--count", &count},
                 {"--timeout-ms", &timeout_ms}, {"--interval-us", &interval_us}};
  if (!opts.parse(argc, argv)) usage(argv[0]);
  if (listen_port != 0) {
    if (listen_port > 65535) usage(argv[0]);
    return listen_forever(static_cast<uint16_t>(listen_port));
  }
  if (dest.empty() || port == 0 || port > 65535 || threads == 0 || threads > 256) usage(argv[0]);

  auto addr = parse_socket_address(dest, static_cast<uint16_t>(port));
  if (!addr) usage(argv[0]);
  const int family = addr->family;

  std::atomic<uint64_t> connected{0}, failed{0}, tried{0};
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  // Connect times in ns, per thread, at most kMaxSamples each (memory bounded).
  constexpr size_t kMaxSamples = 1 << 20;
  std::vector<std::vector<uint32_t>> samples(threads);
  auto worker = [&](std::vector<uint32_t>& mine) {
    mine.reserve(1 << 16);
    auto next_start = std::chrono::steady_clock::now();
    // connect() honours SO_SNDTIMEO: a dropped SYN fails after timeout_ms.
    timeval tv{static_cast<time_t>(timeout_ms / 1000),
               static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
    linger lg{1, 0};
    while (std::chrono::steady_clock::now() < deadline) {
      if (count != 0 && tried.fetch_add(1) >= count) break;
      if (interval_us != 0) {
        std::this_thread::sleep_until(next_start);
        next_start += std::chrono::microseconds(interval_us);
      }
      int fd = socket(family, SOCK_STREAM, 0);
      if (fd < 0) die("socket");
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      const auto c0 = std::chrono::steady_clock::now();
      if (connect(fd, addr->get(), addr->len) == 0) {
        const auto took = std::chrono::steady_clock::now() - c0;
        if (mine.size() < kMaxSamples) {
          mine.push_back(static_cast<uint32_t>(std::min<int64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(), UINT32_MAX)));
        }
        connected.fetch_add(1, std::memory_order_relaxed);
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      } else {
        failed.fetch_add(1, std::memory_order_relaxed);
      }
      close(fd);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned long t = 0; t < threads; ++t) pool.emplace_back(worker, std::ref(samples[t]));
  for (auto& t : pool) t.join();
  std::vector<uint32_t> all;
  for (auto& v : samples) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct_us = [&](double q) {
    if (all.empty()) return 0.0;
    size_t i = std::min(all.size() - 1, static_cast<size_t>(q * static_cast<double>(all.size())));
    return all[i] / 1000.0;
  };
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("connected %llu\nfailed %llu\nseconds %.3f\nconnects_per_s %.0f\n",
              static_cast<unsigned long long>(connected.load()),
              static_cast<unsigned long long>(failed.load()), secs,
              static_cast<double>(connected.load()) / secs);
  std::printf(
      "connect_p50_us %.1f\nconnect_p90_us %.1f\nconnect_p99_us %.1f\nconnect_max_us %.1f\n",
      pct_us(0.5), pct_us(0.9), pct_us(0.99), all.empty() ? 0.0 : all.back() / 1000.0);
  return 0;
}
