// A bounded-time UDP flood for bench/live_bench.sh: sends datagrams of a fixed
// payload size to one address as fast as sendmmsg allows, from several
// sockets (one source port, so one flow, each), for a fixed time.
//
//   udp_flood --dest ADDR --port N [--size BYTES] [--seconds S] [--flows N] [--batch N]
//             [--packets-per-flow N [--handshake N] [--handshake-size BYTES] [--wait-ms N]]
// With --packets-per-flow, a socket that has sent that many datagrams is
// closed and replaced by a new one (a new source port: a new flow), so the
// traffic is many flows of a known length, --flows of them at a time. With
// --handshake, a new flow first sends that many --handshake-size datagrams and
// sends nothing more until every answer has come back (the server echoes each)
// or --wait-ms passed: the handshake is complete in both directions before the
// stream starts, as in a call or a game session. Other sockets send meanwhile.
// Prints "sent N" (streamed datagrams, handshakes not counted), "seconds S",
// "pps R", "send_errors N" and, with --packets-per-flow, "flows N",
// "flows_answered N", and "cpu_s" (this process's user + system CPU time:
// without IRQ time accounting that includes the kernel's forwarding of the
// datagrams, which on veth pairs runs in the sender's context) on stdout. Send errors from a full
// queue (ENOBUFS, EAGAIN) or ICMP feedback (ECONNREFUSED) are counted, not fatal.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
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
#include <vector>

#include "socket_address.h"
#include "tool_options.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --dest ADDR --port N [--size BYTES] [--seconds S] [--flows N] "
               "[--batch N]\n"
               "          [--packets-per-flow N [--handshake N] [--handshake-size BYTES] "
               "[--wait-ms N]]\n",
               argv0);
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "udp_flood: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// One sending socket: a flow while it lives.
struct Sender {
  int fd = -1;
  uint64_t sent = 0;          // datagrams streamed in this flow
  bool waiting = false;       // handshake sent, not every answer back yet
  unsigned long answers = 0;  // answers still awaited
  Clock::time_point since;    // when the handshake went out
};

}  // namespace

int main(int argc, char** argv) {
  std::string dest;
  unsigned long port = 0, size = 64, flows = 16, batch = 64;
  unsigned long per_flow = 0, handshake = 0, handshake_size = 16, wait_ms = 50;
  double seconds = 5;
  ToolOptions opts;
  opts.text = {{"--dest", &dest}};
  opts.positive = {{"--seconds", &seconds}};
  opts.number = {{"--port", &port},
                 {"--size", &size},
                 {"--flows", &flows},
                 {"--batch", &batch},
                 {"--packets-per-flow", &per_flow},
                 {"--handshake", &handshake},
                 {"--handshake-size", &handshake_size},
                 {"--wait-ms", &wait_ms}};
  if (!opts.parse(argc, argv)) usage(argv[0]);
  if (dest.empty() || port == 0 || port > 65535 || size > 65000 || flows == 0 || flows > 1024 ||
      batch == 0 || batch > 1024 || handshake > 64 || handshake_size > 65000 ||
      (handshake != 0 && (per_flow == 0 || handshake_size == size)) || wait_ms > 10000) {
    usage(argv[0]);
  }

  auto addr = parse_socket_address(dest, static_cast<uint16_t>(port));
  if (!addr) usage(argv[0]);
  const int family = addr->family;

  std::vector<uint8_t> payload(size, 0x5a);
  std::vector<uint8_t> hello(handshake_size, 0x68);
  std::vector<uint8_t> answer(65536);
  uint64_t sent = 0, errors = 0, started = 0, answered = 0;

  // A new flow on sender s: a fresh socket (new source port) and its handshake.
  auto open_flow = [&](Sender& s) {
    if (s.fd >= 0) close(s.fd);
    s = Sender{};
    s.fd = socket(family, SOCK_DGRAM, 0);
    if (s.fd < 0) die("socket");
    if (connect(s.fd, addr->get(), addr->len) < 0) die("connect");
    ++started;
    if (handshake == 0) return;
    for (unsigned long i = 0; i < handshake; ++i) {
      if (send(s.fd, hello.data(), hello.size(), 0) < 0) ++errors;
    }
    s.waiting = true;
    s.answers = handshake;
    s.since = Clock::now();
  };

  std::vector<Sender> senders(flows);
  for (auto& s : senders) open_flow(s);

  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> msgs(batch);
  for (unsigned long i = 0; i < batch; ++i) {
    iov[i] = {payload.data(), payload.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  const auto wait = std::chrono::milliseconds(wait_ms);
  size_t next = 0;
  Clock::time_point now = t0;
  for (uint64_t round = 0;; ++round) {
    if ((round & 15) == 0) {
      now = Clock::now();
      if (now >= deadline) break;
    }
    Sender& s = senders[next];
    next = (next + 1) % senders.size();
    if (s.waiting) {
      while (s.answers > 0 && recv(s.fd, answer.data(), answer.size(), MSG_DONTWAIT) > 0)
        --s.answers;
      if (s.answers == 0) {
        ++answered;
        s.waiting = false;
      } else if (Clock::now() - s.since >= wait) {
        s.waiting = false;  // no answer in time: stream anyway (flows_answered says so)
      } else {
        continue;
      }
    }
    unsigned n_msgs = static_cast<unsigned>(batch);
    if (per_flow != 0) n_msgs = static_cast<unsigned>(std::min<uint64_t>(batch, per_flow - s.sent));
    int n = sendmmsg(s.fd, msgs.data(), n_msgs, 0);
    if (n < 0) {
      if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED && errno != EINTR) {
        die("sendmmsg");
      }
      ++errors;
      continue;
    }
    sent += static_cast<uint64_t>(n);
    s.sent += static_cast<uint64_t>(n);
    if (per_flow != 0 && s.sent >= per_flow) open_flow(s);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& s : senders) close(s.fd);
  std::printf("sent %llu\nseconds %.3f\npps %.0f\nsend_errors %llu\n",
              static_cast<unsigned long long>(sent), secs, static_cast<double>(sent) / secs,
              static_cast<unsigned long long>(errors));
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("cpu_s %.3f\n",
              static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  if (per_flow != 0) {
    std::printf("flows %llu\nflows_answered %llu\n", static_cast<unsigned long long>(started),
                static_cast<unsigned long long>(answered));
  }
  return 0;
}
