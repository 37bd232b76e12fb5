#include "conntrack_service.h"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace tripline {
namespace {

constexpr unsigned kDestroyGroup = 1u << (NFNLGRP_CONNTRACK_DESTROY - 1);
constexpr size_t kDumpBufferBytes = 32768;  // libmnl 1.0.5 calls this MNL_SOCKET_DUMP_SIZE

struct DumpState {
  std::vector<CtEntry>* out;
};

int dump_row(const nlmsghdr* nlh, void* data) {
  CtEntry e;
  if (parse_ct_entry(nlh, e)) static_cast<DumpState*>(data)->out->push_back(e);
  return MNL_CB_OK;
}

// Asks the kernel to deliver only the destroy events of connections carrying
// one of the offload marks: without it, every connection's end wakes the
// event thread (a connect-and-reset load ends tens of thousands a second, few
// of them offloaded). run_events() still checks the mark itself.
bool attach_mark_filter(int fd, const ConntrackMarks& marks) {
  nfct_filter* f = nfct_filter_create();
  if (!f) return false;
  for (uint32_t val : {marks.accept, marks.drop}) {
    nfct_filter_dump_mark m{val, marks.mask};
    nfct_filter_add_attr(f, NFCT_FILTER_MARK, &m);
  }
  nfct_filter_set_logic(f, NFCT_FILTER_MARK, NFCT_FILTER_LOGIC_POSITIVE);
  bool ok = nfct_filter_attach(fd, f) == 0;
  nfct_filter_destroy(f);
  return ok;
}

}  // namespace

CtSocket::CtSocket(unsigned groups) {
  sock_ = mnl_socket_open(NETLINK_NETFILTER);
  if (!sock_)
    throw ConntrackError(
        fmt::format("cannot open a netfilter netlink socket: {}", std::strerror(errno)));
  if (mnl_socket_bind(sock_, groups, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(sock_);
    throw ConntrackError(fmt::format(
        "cannot subscribe to conntrack events: {}{}", std::strerror(err),
        err == EPERM ? " (needs CAP_NET_ADMIN)" : " (is nf_conntrack_netlink loaded?)"));
  }
  portid_ = mnl_socket_get_portid(sock_);
  if (groups) {
    // A large buffer makes overruns rarer; they are counted either way.
    int size = 8 << 20;
    setsockopt(mnl_socket_get_fd(sock_), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
    timeval tv{0, 100 * 1000};  // the event thread checks for stop this often
    setsockopt(mnl_socket_get_fd(sock_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  } else {
    timeval tv{2, 0};  // an answer never takes this long; a lost one must not hang us
    setsockopt(mnl_socket_get_fd(sock_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
}

CtSocket::~CtSocket() {
  if (sock_) mnl_socket_close(sock_);
}

int CtSocket::request(std::span<const uint8_t> msg) {
  auto* nlh = reinterpret_cast<nlmsghdr*>(const_cast<uint8_t*>(msg.data()));
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(sock_, msg.data(), msg.size()) < 0) return errno;
  uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf, sizeof(buf));
    if (n < 0) return errno;
    int ret = mnl_cb_run(buf, n, seq_, portid_, nullptr, nullptr);
    if (ret == MNL_CB_ERROR) return errno;
    if (ret == MNL_CB_STOP) return 0;
  }
}

std::vector<CtEntry> CtSocket::dump() {
  std::vector<CtEntry> out;
  DumpState st{&out};
  for (uint8_t family : {uint8_t{4}, uint8_t{6}}) {
    uint8_t msg[kCtMessageBytes];
    size_t len = build_dump(msg, family, ++seq_);
    auto* nlh = reinterpret_cast<nlmsghdr*>(msg);
    if (mnl_socket_sendto(sock_, msg, len) < 0)
      throw ConntrackError(fmt::format("conntrack dump: {}", std::strerror(errno)));
    std::vector<uint8_t> buf(kDumpBufferBytes);
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
      if (n < 0) throw ConntrackError(fmt::format("conntrack dump: {}", std::strerror(errno)));
      int ret = mnl_cb_run(buf.data(), n, nlh->nlmsg_seq, portid_, dump_row, &st);
      if (ret == MNL_CB_ERROR)
        throw ConntrackError(fmt::format("conntrack dump: {}", std::strerror(errno)));
      if (ret == MNL_CB_STOP) break;
    }
  }
  return out;
}

std::vector<CtTuple> dump_established() {
  CtSocket s;
  std::vector<CtTuple> out;
  for (const CtEntry& e : s.dump())
    if (is_established(e)) out.push_back(e.end.tuple);
  return out;
}

ConntrackService::ConntrackService(OffloadLink& link, const ConntrackMarks& marks)
    : link_(link), marks_(marks), control_(0), events_(kDestroyGroup) {
  events_filtered_ = attach_mark_filter(mnl_socket_get_fd(events_.raw()), marks_);
}

ConntrackService::~ConntrackService() { stop(); }

void ConntrackService::start() {
  control_thread_ = std::thread([this] { run_control(); });
  event_thread_ = std::thread([this] { run_events(); });
}

void ConntrackService::stop() {
  stop_.store(true);
  link_.wake();
  if (control_thread_.joinable()) control_thread_.join();
  if (event_thread_.joinable()) event_thread_.join();
}

void ConntrackService::apply(const CtRequest& r) {
  uint8_t msg[kCtMessageBytes];
  // (In-verdict offloads never come here: request() registered them.)
  if (!link_.will_offload(r)) {
    link_.applied(r, false, false);  // the owner table is full: the flow stays with the engine
    return;
  }
  if (r.op == CtOp::TakeBack) {
    size_t len = build_mark_update(msg, r.tuple, 0, marks_.mask, 0);
    link_.applied(r, len && control_.request({msg, len}) == 0, false);
    return;
  }
  const uint32_t mark = r.drop ? marks_.drop : marks_.accept;
  size_t len = build_mark_update(msg, r.tuple, mark, marks_.mask, 0);
  int err = len ? control_.request({msg, len}) : EINVAL;
  if (err == ENOENT) {  // the reply direction first seen by the engine, or no entry at all
    len = build_mark_update(msg, r.tuple.reversed(), mark, marks_.mask, 0);
    err = control_.request({msg, len});
  }
  bool created = false;
  if (err == ENOENT && r.drop) {
    // A dropped flow's packets never confirmed an entry: make one, so that
    // the kernel drops the flow's next packets before queueing them.
    len = build_create(msg, r.tuple, mark, marks_.create_timeout, 0);
    err = len ? control_.request({msg, len}) : EINVAL;
    created = err == 0;
  }
  link_.applied(r, err == 0, created);
}

void ConntrackService::run_control() {
  // Busy (a request within the last 100 ms): look every ms, so that workers
  // never pay a wake-up per request; idle: sleep until one comes.
  constexpr int kPollsBeforeSleep = 100;
  CtRequest r;
  int idle_polls = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (link_.next_request(r)) {
      apply(r);
      idle_polls = 0;
      continue;
    }
    if (++idle_polls < kPollsBeforeSleep)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    else
      link_.wait_for_request(stop_);
  }
}

void ConntrackService::run_events() {
  // Ends need no haste: once the socket is drained the thread pauses, so that
  // a load ending thousands of connections a second wakes it a few dozen
  // times, not once per end. The socket's 8 MB buffer holds what comes
  // meanwhile (thousands of events); an overrun is counted either way.
  constexpr unsigned kBatch = 32;
  constexpr size_t kEventBytes = 8192;  // an event is well under 1 KB
  constexpr auto kPause = std::chrono::milliseconds(20);
  std::vector<uint8_t> buf(kBatch * kEventBytes);
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_nl, kBatch> from{};
  const int fd = mnl_socket_get_fd(events_.raw());
  while (!stop_.load(std::memory_order_relaxed)) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = {buf.data() + i * kEventBytes, kEventBytes};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
    }
    // Waits (up to the socket's timeout, the stop check) for the first only.
    int got = recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (got < 0) {
      if (errno == ENOBUFS) link_.count_events_lost();  // an overrun: some events are gone
      continue;                                         // timeout (stop check) or EINTR
    }
    for (int i = 0; i < got; ++i) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        link_.count_events_lost();  // cut short: its counts cannot be trusted
        continue;
      }
      if (from[i].nl_pid != 0) continue;  // only the kernel sends events
      const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(iov[i].iov_base);
      int len = static_cast<int>(msgs[i].msg_len);
      while (mnl_nlmsg_ok(nlh, len)) {
        CtEntry e;
        if (parse_ct_entry(nlh, e) && e.destroy) {
          uint32_t m = e.end.mark & marks_.mask;
          if (m == marks_.accept || m == marks_.drop) link_.deliver_end(e.end);
        }
        nlh = mnl_nlmsg_next(nlh, &len);
      }
    }
    if (static_cast<unsigned>(got) < kBatch) std::this_thread::sleep_for(kPause);
  }
}

}  // namespace tripline
