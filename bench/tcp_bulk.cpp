// Bulk TCP transfer for bench/live_bench.sh: how many bytes per second a few
// long connections carry through the gateway.
//
//   tcp_bulk --sink PORT                 accept connections (IPv4 and IPv6) and read them to
//                                        the end, discarding the bytes, forever
//   tcp_bulk --dest ADDR --port N [--seconds S] [--streams N] [--chunk BYTES]
// The client opens --streams connections, one thread each, and writes
// --chunk-byte buffers on each until the time is up, then closes them. It
// prints "bytes N" (written, all streams), "seconds S", "gbps R" and
// "streams_failed N" and "cpu_s" (user + system CPU time of the client) on stdout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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
               "usage: %s --sink PORT\n"
               "       %s --dest ADDR --port N [--seconds S] [--streams N] [--chunk BYTES]\n",
               argv0, argv0);
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tcp_bulk: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int sink_forever(uint16_t port) {
  const char* failed = "";
  int fd = listen_tcp_any(port, 256, &failed);
  if (fd < 0) die(failed);
  for (;;) {
    int c = accept_next(fd);
    if (c < 0) die("accept");
    std::thread([c] {
      std::vector<char> buf(1 << 18);
      while (read(c, buf.data(), buf.size()) > 0) {
      }
      close(c);
    }).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dest;
  unsigned long port = 0, sink_port = 0, streams = 2, chunk = 1 << 17;
  double seconds = 5;
  ToolOptions opts;
  opts.text = {{"--dest", &dest}};
  opts.positive = {{"--seconds", &seconds}};
  opts.number = {
      {"--sink", &sink_port}, {"--port", &port}, {"--streams", &streams}, {"--chunk", &chunk}};
  if (!opts.parse(argc, argv)) usage(argv[0]);
  if (sink_port != 0) {
    if (sink_port > 65535) usage(argv[0]);
    return sink_forever(static_cast<uint16_t>(sink_port));
  }
  if (dest.empty() || port == 0 || port > 65535 || streams == 0 || streams > 64 || chunk == 0 ||
      chunk > (1ul << 24)) {
    usage(argv[0]);
  }
  auto addr = parse_socket_address(dest, static_cast<uint16_t>(port));
  if (!addr) usage(argv[0]);
  const int family = addr->family;

  std::atomic<uint64_t> bytes{0}, failed{0};
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  auto stream = [&] {
    std::vector<char> buf(chunk, 'b');
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    // A bounded write: a stalled path cannot keep the client past its time by more than 1 s.
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, addr->get(), addr->len) != 0) {
      failed.fetch_add(1);
      close(fd);
      return;
    }
    uint64_t mine = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      ssize_t n = write(fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        failed.fetch_add(1);
        break;
      }
      mine += static_cast<uint64_t>(n);
    }
    bytes.fetch_add(mine);
    close(fd);
  };
  std::vector<std::thread> pool;
  for (unsigned long t = 0; t < streams; ++t) pool.emplace_back(stream);
  for (auto& t : pool) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("cpu_s %.3f\n",
              static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  std::printf("bytes %llu\nseconds %.3f\ngbps %.2f\nstreams_failed %llu\n",
              static_cast<unsigned long long>(bytes.load()), secs,
              static_cast<double>(bytes.load()) * 8 / secs / 1e9,
              static_cast<unsigned long long>(failed.load()));
  return 0;
}
