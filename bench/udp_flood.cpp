// A bounded-time UDP flood for bench/live_bench.sh: sends datagrams of a fixed
// payload size to one address as fast as sendmmsg allows, from several
// sockets (one source port, so one flow, each), for a fixed time.
//
//   udp_flood --dest ADDR --port N [--size BYTES] [--seconds S] [--flows N] [--batch N]
// Prints "sent N", "seconds S" and "pps R" on stdout. Send errors from a
// full queue (ENOBUFS, EAGAIN) or ICMP feedback (ECONNREFUSED) are counted,
// not fatal.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "socket_address.h"
#include "tool_options.h"

namespace {

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --dest ADDR --port N [--size BYTES] [--seconds S] [--flows N] "
               "[--batch N]\n",
               argv0);
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "udp_flood: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dest;
  unsigned long port = 0, size = 64, flows = 16, batch = 64;
  double seconds = 5;
  ToolOptions opts;
  opts.text = {{"--dest", &dest}};
  opts.positive = {{"--seconds", &seconds}};
  opts.number = {{"--port", &port}, {"--size", &size}, {"--flows", &flows}, {"--batch", &batch}};
  if (!opts.parse(argc, argv)) usage(argv[0]);
  if (dest.empty() || port == 0 || port > 65535 || size > 65000 || flows == 0 || flows > 1024 ||
      batch == 0 || batch > 1024) {
    usage(argv[0]);
  }

  auto addr = parse_socket_address(dest, static_cast<uint16_t>(port));
  if (!addr) usage(argv[0]);
  const int family = addr->family;

  std::vector<int> socks;
  for (unsigned long f = 0; f < flows; ++f) {
    int fd = socket(family, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, addr->get(), addr->len) < 0) die("connect");
    socks.push_back(fd);
  }

  std::vector<uint8_t> payload(size, 0x5a);
  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> msgs(batch);
  for (unsigned long i = 0; i < batch; ++i) {
    iov[i] = {payload.data(), payload.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  uint64_t sent = 0, errors = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  size_t next = 0;
  for (uint64_t round = 0;; ++round) {
    if ((round & 15) == 0 && std::chrono::steady_clock::now() >= deadline) break;
    int n = sendmmsg(socks[next], msgs.data(), static_cast<unsigned>(batch), 0);
    next = (next + 1) % socks.size();
    if (n < 0) {
      if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED && errno != EINTR) {
        die("sendmmsg");
      }
      ++errors;
      continue;
    }
    sent += static_cast<uint64_t>(n);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int fd : socks) close(fd);
  std::printf("sent %llu\nseconds %.3f\npps %.0f\nsend_errors %llu\n",
              static_cast<unsigned long long>(sent), secs, static_cast<double>(sent) / secs,
              static_cast<unsigned long long>(errors));
  return 0;
}
