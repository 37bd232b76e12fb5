// The reference consumer for bench/live_bench.sh: binds one NFQUEUE queue and
// accepts every packet as fast as the kernel interface allows (libmnl +
// libnetfilter_queue's nfq_nlmsg_* API, recvmmsg batches, one
// NFQNL_MSG_VERDICT_BATCH per batch). No decoding, no flow table: it is the
// ceiling any consumer on this machine can reach, what `tripline run` is
// compared against. Its queue settings default to tripline's [queue] defaults
// (copy range 0xffff, fail-open, GSO, queue length 4096, 8 MB receive
// buffer, 64 datagrams per recvmmsg) so the two are compared like for like.
//
//   nfq_accept_all [--queue N] [--batch N] [--copy-range N] [--max-len N]
//                  [--rcvbuf BYTES] [--no-fail-open] [--no-gso]
// Prints "bound queue N" once bound; on SIGUSR1 and at exit (SIGTERM/SIGINT)
// "packets N" and "verdict_msgs N" lines on stdout.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_report = 0;

void on_signal(int sig) {
  if (sig == SIGUSR1) {
    g_report = 1;
  } else {
    g_stop = 1;
  }
}

struct Options {
  uint16_t queue = 0;
  unsigned batch = 64;
  uint32_t copy_range = 0xffff;
  uint32_t max_len = 4096;
  int rcvbuf = 8 << 20;
  bool fail_open = true;
  bool gso = true;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--queue N] [--batch N] [--copy-range N] [--max-len N] "
               "[--rcvbuf BYTES] [--no-fail-open] [--no-gso]\n",
               argv0);
  std::exit(2);
}

unsigned long number(const char* argv0, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long v = std::strtoul(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0') usage(argv0);
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) usage(argv[0]);
      return number(argv[0], argv[++i]);
    };
    if (a == "--queue")
      o.queue = static_cast<uint16_t>(value());
    else if (a == "--batch")
      o.batch = static_cast<unsigned>(value());
    else if (a == "--copy-range")
      o.copy_range = static_cast<uint32_t>(value());
    else if (a == "--max-len")
      o.max_len = static_cast<uint32_t>(value());
    else if (a == "--rcvbuf")
      o.rcvbuf = static_cast<int>(value());
    else if (a == "--no-fail-open")
      o.fail_open = false;
    else if (a == "--no-gso")
      o.gso = false;
    else
      usage(argv[0]);
  }
  if (o.batch == 0 || o.batch > 1024) usage(argv[0]);
  return o;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "nfq_accept_all: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Stats {
  uint64_t packets = 0;
  uint64_t verdict_msgs = 0;
  uint64_t recv_batches = 0;
  uint64_t enobufs = 0;
};

void report(const Stats& s) {
  std::printf(
      "packets %llu\nverdict_msgs %llu\nrecv_batches %llu\nenobufs %llu\n",
      static_cast<unsigned long long>(s.packets), static_cast<unsigned long long>(s.verdict_msgs),
      static_cast<unsigned long long>(s.recv_batches), static_cast<unsigned long long>(s.enobufs));
  std::fflush(stdout);
}

void send_config(mnl_socket* nl, uint16_t queue, const Options& o, uint8_t cmd, bool params) {
  alignas(8) char buf[512];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, cmd);
  if (params) {
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(o.copy_range));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, o.max_len);
    uint32_t flags = (o.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0) | (o.gso ? NFQA_CFG_F_GSO : 0);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
  }
  nlh->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) die("sending the queue config");
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);

  struct sigaction sa = {};
  sa.sa_handler = on_signal;  // no SA_RESTART: recvmmsg returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);

  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (!nl) die("mnl_socket_open");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) die("mnl_socket_bind");
  const int fd = mnl_socket_get_fd(nl);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &o.rcvbuf, sizeof o.rcvbuf) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof o.rcvbuf) < 0) {
    die("setting the receive buffer");
  }
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  timeval tv{0, 100'000};  // look at the signal flags at least every 100 ms
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  send_config(nl, o.queue, o, NFQNL_CFG_CMD_BIND, true);

  // Receive slots: one netlink datagram each (a packet of up to copy_range bytes
  // plus its attributes), 8-byte aligned.
  const size_t slot = (0xffff + MNL_SOCKET_BUFFER_SIZE / 2 + 7) & ~size_t{7};
  std::vector<uint8_t> rx(slot * o.batch);
  std::vector<iovec> iov(o.batch);
  std::vector<mmsghdr> msgs(o.batch);
  for (unsigned i = 0; i < o.batch; ++i) {
    iov[i] = {rx.data() + i * slot, slot};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  Stats st;
  bool bound = false;
  alignas(8) char vbuf[256];
  while (!g_stop) {
    if (g_report) {
      g_report = 0;
      report(st);
    }
    // MSG_WAITFORONE: return as soon as one datagram is in, with whatever else is.
    int n = recvmmsg(fd, msgs.data(), o.batch, MSG_WAITFORONE, nullptr);
    if (n < 0) {
      if (errno == ENOBUFS) {
        ++st.enobufs;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      die("recvmmsg");
    }
    ++st.recv_batches;
    uint32_t last_id = 0;
    uint64_t got = 0;
    for (int i = 0; i < n; ++i) {
      int len = static_cast<int>(msgs[static_cast<size_t>(i)].msg_len);
      auto* nlh = reinterpret_cast<const nlmsghdr*>(rx.data() + static_cast<size_t>(i) * slot);
      for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          if (err->error != 0) {
            errno = -err->error;
            die(bound ? "the kernel refused a verdict" : "binding the queue");
          }
          if (!bound) {
            bound = true;
            std::printf("bound queue %u\n", o.queue);
            std::fflush(stdout);
          }
          continue;
        }
        if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
        nlattr* attr[NFQA_MAX + 1] = {};
        nfq_nlmsg_parse(nlh, attr);
        if (!attr[NFQA_PACKET_HDR]) continue;
        const auto* ph =
            static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
        last_id = ntohl(ph->packet_id);  // ids arrive in order
        ++got;
      }
    }
    if (got == 0) continue;
    // One message accepts every outstanding packet with an id up to last_id
    // (a single packet gets a plain verdict, as tripline sends it).
    nlmsghdr* v =
        nfq_nlmsg_put(vbuf, got == 1 ? NFQNL_MSG_VERDICT : NFQNL_MSG_VERDICT_BATCH, o.queue);
    nfq_nlmsg_verdict_put(v, static_cast<int>(last_id), NF_ACCEPT);
    if (mnl_socket_sendto(nl, v, v->nlmsg_len) < 0) die("sending a verdict");
    st.packets += got;
    ++st.verdict_msgs;
  }
  // Unbind. Packets still queued at this moment are dropped by the kernel
  // (tripline drains its queue first; this tool is for benchmarks only), and
  // with --queue-bypass later ones pass unqueued.
  send_config(nl, o.queue, o, NFQNL_CFG_CMD_UNBIND, false);
  mnl_socket_close(nl);
  report(st);
  return 0;
}
