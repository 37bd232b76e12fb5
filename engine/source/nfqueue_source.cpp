#include "nfqueue_source.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/capability.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "duration_histogram.h"
#include "nf_verdict.h"
#include "timestamp.h"
#include "verdict_batcher.h"

namespace tripline {
namespace {

constexpr int kRecvTimeoutMs = 100;                 // how often run() looks at `stop` when idle
constexpr auto kAckWait = std::chrono::seconds(3);  // how long the bind may take
constexpr auto kDrainPause = std::chrono::milliseconds(1);  // between drain reads
constexpr auto kDrainLimit = std::chrono::seconds(2);       // drain bound under endless traffic
constexpr size_t kMaxReplacement = 0xffff - 64;             // fits one netlink attribute
constexpr uint16_t kPacketMsg = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;

// One receive slot: the largest packet message (a 64 KB payload plus its
// attributes), rounded up to 8 bytes so every netlink header in it is aligned.
size_t slot_bytes() {
  return (0xffff + static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE) / 2 + 7) & ~size_t{7};
}

// Is `queue` listed in this namespace's nfnetlink_queue table, that is, bound
// by some socket? Used only to explain a refused bind.
bool queue_is_listed(uint16_t queue) {
  std::ifstream in("/proc/net/netfilter/nfnetlink_queue");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    unsigned num = 0;
    if (fields >> num && num == queue) return true;
  }
  return false;
}

// Does this thread hold CAP_NET_ADMIN (effective)? Also only to explain a refused bind.
bool has_net_admin() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

struct SocketCloser {
  void operator()(mnl_socket* nl) const { mnl_socket_close(nl); }
};
struct BatchStopper {
  void operator()(mnl_nlmsg_batch* b) const { mnl_nlmsg_batch_stop(b); }
};

}  // namespace

// The netlink side of the verdicts: the batcher decides which messages go
// out, put() builds each into the send buffer.
struct NfqueueSource::Impl final : VerdictSink {
  Impl(const QueueConfig& cfg, uint16_t queue, Worker& worker);

  void bind();
  void unbind_and_close();
  // Reads until our config request is answered; packets that arrive meanwhile
  // are judged like any other. Returns the kernel's error (0 = success).
  int await_ack(uint32_t seq);

  // recvmmsg into the preallocated slots; returns datagrams or -1 (errno).
  int receive(int flags);
  void handle_batch(int datagrams);
  void handle_datagram(const uint8_t* data, size_t len);
  void handle_message(const nlmsghdr* nlh);
  // Appends one verdict message (NFQNL_MSG_VERDICT or _BATCH) to the send buffer.
  void put(const VerdictMessage& msg) override;
  void send_verdicts();  // sends what is in the verdict buffer
  void send_raw(const void* data, size_t len);
  void flush();  // both: every packet received so far has its verdict

  void run(const std::atomic<bool>& stop);
  void drain();

  const QueueConfig cfg;
  const uint16_t queue;
  Worker& worker;
  Counters& counters;
  const uint32_t reject_mark;
  const OffloadConfig offload;  // [offload] mark and mask for offloading verdicts

  std::unique_ptr<mnl_socket, SocketCloser> nl;
  int fd = -1;
  uint32_t portid = 0;
  uint32_t seq = 0;
  bool bound = false;

  // Receive side: cfg.batch slots, each one datagram, allocated once.
  size_t slot_size = 0;
  std::vector<uint8_t> rx;
  std::vector<iovec> iovs;
  std::vector<mmsghdr> msgs;

  // Send side: verdict messages collected in one buffer, sent with one sendto.
  std::vector<uint8_t> tx;
  size_t tx_limit = 0;
  std::unique_ptr<mnl_nlmsg_batch, BatchStopper> txb;
  VerdictBatcher batcher{*this};

  // The config request being waited for (0 = none).
  uint32_t ack_seq = 0;
  bool ack_seen = false;
  int ack_error = 0;

  uint32_t last_id = 0;               // highest packet id seen
  uint64_t batch_packets = 0;         // packets in the batch being handled
  std::optional<QueueRow> final_row;  // read after the drain, before the unbind

  bool warned_repeat = false;
  // Offloading verdicts repeat the packet through the queue's chain (its save
  // rule), until one comes back: then the ruleset saves the mark only later
  // (postrouting), and they accept instead.
  OffloadVerdict offload_how = OffloadVerdict::Repeat;
  bool warned_truncated = false;
  bool warned_recv = false;
  bool warned_send = false;
};

NfqueueSource::Impl::Impl(const QueueConfig& c, uint16_t q, Worker& w)
    : cfg(c),
      queue(q),
      worker(w),
      counters(w.counters()),
      reject_mark(w.config().egress.reject_mark),
      offload(w.config().offload) {
  nl.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!nl) {
    throw SourceError("queue " + std::to_string(queue) +
                      ": cannot open a netfilter netlink socket: " + std::strerror(errno));
  }
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    throw SourceError("queue " + std::to_string(queue) +
                      ": cannot bind the netlink socket: " + std::strerror(errno));
  }
  fd = mnl_socket_get_fd(nl.get());
  portid = mnl_socket_get_portid(nl.get());
  seq = static_cast<uint32_t>(wall_clock_now() / kNsPerSec);

  // A large receive buffer absorbs bursts; FORCE passes rmem_max with CAP_NET_ADMIN.
  int rcvbuf = static_cast<int>(std::min<uint32_t>(cfg.rcvbuf, 1u << 30));
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) {
    spdlog::warn("queue {}: cannot set the receive buffer to {} bytes: {}", queue, rcvbuf,
                 std::strerror(errno));
  }
  // Keep ENOBUFS reports: each one means the kernel could not hand us packets
  // (they were accepted by fail-open or dropped); we count them and go on.
  int off = 0;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &off, sizeof off);
  timeval tv{0, kRecvTimeoutMs * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  const size_t batch = std::max<uint32_t>(cfg.batch, 1);
  slot_size = slot_bytes();
  rx.resize(batch * slot_size);
  iovs.resize(batch);
  msgs.resize(batch);
  for (size_t i = 0; i < batch; ++i) {
    iovs[i] = iovec{rx.data() + i * slot_size, slot_size};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  // The batch helper lets the last message run past its limit: room for one
  // verdict carrying a whole replacement packet.
  tx_limit = MNL_SOCKET_BUFFER_SIZE;
  tx.resize(tx_limit + kMaxReplacement + 256);
  txb.reset(mnl_nlmsg_batch_start(tx.data(), tx_limit));
  if (!txb) throw SourceError("queue " + std::to_string(queue) + ": out of memory");

  bind();
}

void NfqueueSource::Impl::bind() {
  // One request: bind, copy mode, queue length and flags. The ACK tells us
  // whether the kernel took it (a bind has no other answer).
  alignas(8) char buf[512];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++seq;
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  // With NFQNL_COPY_PACKET a range of 0 means the whole packet.
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET,
                           static_cast<int>(std::min<uint32_t>(cfg.copy_range, 0xffff)));
  nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg.max_len);
  uint32_t flags = (cfg.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0) | (cfg.gso ? NFQA_CFG_F_GSO : 0);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));

  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) {
    int err = errno;
    throw SourceError("queue " + std::to_string(queue) +
                      ": cannot send the bind request: " + std::strerror(err));
  }
  int err = await_ack(nlh->nlmsg_seq);
  const std::string q = std::to_string(queue);
  if (err == 0) {
    bound = true;
    return;
  }
  // The kernel answers EPERM both without CAP_NET_ADMIN and when another
  // socket holds the queue. The queue table (readable by root) or our
  // capabilities tell the two apart.
  if (err == EBUSY || (err == EPERM && (queue_is_listed(queue) || has_net_admin()))) {
    throw SourceError("queue " + q + " is already bound by another process");
  }
  if (err == EPERM)
    throw SourceError("queue " + q + ": permission denied (need root or CAP_NET_ADMIN)");
  if (err == ETIMEDOUT)
    throw SourceError("queue " + q + ": the kernel did not answer the bind request");
  throw SourceError("queue " + q + ": bind failed: " + std::strerror(err));
}

int NfqueueSource::Impl::await_ack(uint32_t want) {
  ack_seq = want;
  ack_seen = false;
  ack_error = 0;
  const auto deadline = std::chrono::steady_clock::now() + kAckWait;
  while (!ack_seen && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = recv(fd, rx.data(), slot_size, 0);
    if (n < 0) {
      if (errno == ENOBUFS) counters.nfq_enobufs.add();
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOBUFS) continue;
      ack_seq = 0;
      return errno;
    }
    handle_datagram(rx.data(), static_cast<size_t>(n));
    flush();  // packets that raced the answer get their verdicts now
  }
  ack_seq = 0;
  return ack_seen ? ack_error : ETIMEDOUT;
}

void NfqueueSource::Impl::unbind_and_close() {
  if (!nl) return;
  if (bound) {
    // Closing the socket unbinds too; saying so first is explicit and immediate.
    alignas(8) char buf[256];
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nlh->nlmsg_seq = ++seq;
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
    mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len);
    bound = false;
  }
  nl.reset();
  fd = -1;
}

int NfqueueSource::Impl::receive(int flags) {
  return recvmmsg(fd, msgs.data(), static_cast<unsigned>(msgs.size()), flags, nullptr);
}

void NfqueueSource::Impl::handle_batch(int datagrams) {
  // Every packet of the batch arrived when recvmmsg returned and has its
  // verdict once flush() sent it: that wait is each one's verdict latency.
  const uint64_t received = monotonic_ns();
  batch_packets = 0;
  counters.nfq_batches.add();
  for (int i = 0; i < datagrams; ++i) {
    const mmsghdr& m = msgs[static_cast<size_t>(i)];
    if ((m.msg_hdr.msg_flags & MSG_TRUNC) && !warned_truncated) {
      warned_truncated = true;
      spdlog::warn("queue {}: a netlink datagram was larger than the receive slot", queue);
    }
    handle_datagram(rx.data() + static_cast<size_t>(i) * slot_size, m.msg_len);
  }
  flush();
  if (batch_packets > 0) counters.verdict_latency.observe(monotonic_ns() - received, batch_packets);
}

void NfqueueSource::Impl::handle_datagram(const uint8_t* data, size_t len) {
  int remaining = static_cast<int>(std::min<size_t>(len, slot_size));
  const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(data);
  while (mnl_nlmsg_ok(nlh, remaining)) {
    handle_message(nlh);
    nlh = mnl_nlmsg_next(nlh, &remaining);
  }
}

void NfqueueSource::Impl::handle_message(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type == NLMSG_ERROR) {
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return;
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
    if (ack_seq != 0 && nlh->nlmsg_seq == ack_seq) {
      ack_seen = true;
      ack_error = -err->error;
    } else if (err->error != 0) {
      counters.nfq_verdict_errors.add();  // a verdict the kernel refused
    }
    return;
  }
  if (nlh->nlmsg_type != kPacketMsg) return;

  nlattr* attr[NFQA_MAX + 1] = {};
  // A failed parse keeps the attributes validated before the bad one; the
  // packet header comes first, so the packet can still get its verdict.
  bool parsed = nfq_nlmsg_parse(nlh, attr) >= 0;
  if (!attr[NFQA_PACKET_HDR]) return;  // no id: nothing we could answer
  const auto* ph =
      static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  const uint32_t id = ntohl(ph->packet_id);
  ++batch_packets;
  // The kernel numbers a queue's packets 1, 2, ... from the bind on. A gap is
  // packets it numbered but could not deliver (our socket buffer was full):
  // with fail_open they passed uninspected, without it they were dropped.
  // Ids wrap at 2^32: the step is taken modulo, and a step back is ignored.
  const uint32_t step = id - last_id;
  if (step != 0 && step < 0x80000000u) {
    if (step > 1) counters.nfq_lost_ids.add(step - 1);
    last_id = id;
  }
  std::span<const uint8_t> payload;
  if (parsed && attr[NFQA_PAYLOAD]) {
    payload = {static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
               mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
  }
  const uint32_t pkt_mark = attr[NFQA_MARK] ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;
  if (reject_mark != 0 && pkt_mark == reject_mark) {
    // We said NF_REPEAT with the reject mark and the packet came back: the
    // ruleset has no rule rejecting marked packets. Drop it rather than loop.
    if (!warned_repeat) {
      warned_repeat = true;
      spdlog::warn(
          "queue {}: a rejected packet came back with mark {:#x}; the ruleset does not "
          "reject marked packets (see contrib/), dropping them instead",
          queue, pkt_mark);
    }
    batcher.add(id, NfVerdict{NF_DROP, false, 0});
    return;
  }
  if (worker.offloading() && is_returned_offload(pkt_mark, offload)) [[unlikely]] {
    // Our offloading verdict sent it back through the chain (NF_REPEAT) and
    // nothing there saved its mark and accepted it: the ruleset is an older
    // contrib/ one, with its save rule in postrouting. Judged already: it goes
    // on, mark kept, for that rule; offloading verdicts accept from now on.
    counters.offload_returned.add();
    if (offload_how == OffloadVerdict::Repeat) {
      offload_how = OffloadVerdict::Accept;
      spdlog::warn(
          "queue {}: an offloaded packet came back: no rule before the queue rule saves "
          "packet mark {:#x}/{:#x} to the connection and accepts it (contrib/ puts one there); "
          "offloading verdicts accept from now on, for a save rule in postrouting",
          queue, offload.mark, offload.mask);
    }
    batcher.add(id, NfVerdict{NF_ACCEPT, false, 0});
    return;
  }
  PacketMeta meta;
  if (parsed && attr[NFQA_IFINDEX_INDEV])
    meta.in_ifindex = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
  if (parsed && attr[NFQA_IFINDEX_OUTDEV])
    meta.out_ifindex = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
  // The sender's link-layer address: only for packets that came in on a
  // device with one (from a directly attached network); Ethernet-sized only.
  if (parsed && attr[NFQA_HWADDR] &&
      mnl_attr_get_payload_len(attr[NFQA_HWADDR]) >= sizeof(nfqnl_msg_packet_hw)) {
    const auto* hw =
        static_cast<const nfqnl_msg_packet_hw*>(mnl_attr_get_payload(attr[NFQA_HWADDR]));
    if (ntohs(hw->hw_addrlen) == meta.src_mac.bytes.size())
      std::memcpy(meta.src_mac.bytes.data(), hw->hw_addr, meta.src_mac.bytes.size());
  }
  const Decision d = worker.process(LinkType::Raw, payload, wall_clock_now(), meta);
  if (d.replacement.size() > kMaxReplacement) {
    // Cannot happen with packets we were given; never let the original pass instead.
    counters.nfq_verdict_errors.add();
    batcher.add(id, NfVerdict{NF_DROP, false, 0});
    return;
  }
  // A replacement's bytes live in the worker's buffer until its next process()
  // call: the batcher hands them to put() at once, which copies them.
  if (add_verdict(batcher, id, d, pkt_mark, offload, offload_how)) [[unlikely]] {
    // This verdict hands its flow to the kernel: it carries the offload mark,
    // which the ruleset's save rule copies to the connection as the packet
    // goes back through the queue's chain (offload_how). Sent now with what
    // came before it: the kernel runs the packet through the save rule within
    // this send, so fewer of the flow's packets are queued meanwhile, and no
    // take-back the worker asks for after this packet (a recording started by
    // a later packet of this batch) can be undone by it. (The worker counts
    // offload_with_verdict: a late packet's verdict that carries the mark
    // again is no new offload.)
    flush();
  }
}

void NfqueueSource::Impl::put(const VerdictMessage& msg) {
  auto* cur = static_cast<char*>(mnl_nlmsg_batch_current(txb.get()));
  int type = msg.kind == VerdictMessage::Kind::Batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT;
  nlmsghdr* nlh = nfq_nlmsg_put(cur, type, queue);
  nfq_nlmsg_verdict_put(nlh, static_cast<int>(msg.id), static_cast<int>(msg.verdict.verdict));
  if (msg.verdict.has_mark) nfq_nlmsg_verdict_put_mark(nlh, msg.verdict.mark);
  if (!msg.replacement.empty()) {
    nfq_nlmsg_verdict_put_pkt(nlh, msg.replacement.data(),
                              static_cast<uint32_t>(msg.replacement.size()));
  }
  counters.nfq_verdict_msgs.add();
  if (mnl_nlmsg_batch_is_empty(txb.get()) && nlh->nlmsg_len > tx_limit) {
    send_raw(nlh, nlh->nlmsg_len);  // alone larger than a batch: straight out
    return;
  }
  if (!mnl_nlmsg_batch_next(txb.get())) {  // past the limit: send what came before, keep this one
    send_verdicts();
    mnl_nlmsg_batch_reset(txb.get());
  }
}

void NfqueueSource::Impl::send_verdicts() {
  size_t len = mnl_nlmsg_batch_size(txb.get());
  if (len > 0) send_raw(mnl_nlmsg_batch_head(txb.get()), len);
}

void NfqueueSource::Impl::send_raw(const void* data, size_t len) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (mnl_socket_sendto(nl.get(), data, len) >= 0) return;
    if (errno != EINTR && errno != EAGAIN && errno != ENOBUFS) break;
  }
  counters.nfq_verdict_errors.add();
  if (!warned_send) {
    warned_send = true;
    spdlog::error("queue {}: sending verdicts failed: {}", queue, std::strerror(errno));
  }
}

void NfqueueSource::Impl::flush() {
  batcher.flush();
  send_verdicts();
  mnl_nlmsg_batch_reset(txb.get());
}

void NfqueueSource::Impl::run(const std::atomic<bool>& stop) {
  if (!nl) return;
  while (!stop.load(std::memory_order_relaxed)) {
    // A reload is picked up here, between two batches (one atomic load).
    worker.between_batches();
    // Blocks (up to the receive timeout) for the first datagram only.
    int n = receive(MSG_WAITFORONE);
    if (n > 0) {
      handle_batch(n);
      worker.serve_requests();  // the control socket's questions, between batches
      continue;
    }
    if (n == 0) continue;
    switch (errno) {
      case EAGAIN:
#if EAGAIN != EWOULDBLOCK
      case EWOULDBLOCK:
#endif
        worker.tick(wall_clock_now());
        worker.serve_requests();  // an idle worker answers within the receive timeout
        break;
      case EINTR:
        break;
      case ENOBUFS:
        counters.nfq_enobufs.add();
        break;
      default:
        if (!warned_recv) {
          warned_recv = true;
          spdlog::error("queue {}: receive failed: {}", queue, std::strerror(errno));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // no busy loop
        break;
    }
  }
  drain();
  final_row = read_queue_row(queue);
  unbind_and_close();
}

void NfqueueSource::Impl::drain() {
  // Packets the kernel already queued to us are judged before we unbind
  // (unbinding drops what is still queued). Two empty reads in a row, a
  // moment apart, mean the queue is idle; endless traffic is cut off by time.
  const auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
  int empty = 0;
  while (empty < 2 && std::chrono::steady_clock::now() < deadline) {
    int n = receive(MSG_DONTWAIT);
    if (n > 0) {
      handle_batch(n);
      empty = 0;
      continue;
    }
    if (n < 0 && errno == ENOBUFS) {
      counters.nfq_enobufs.add();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
    if (++empty < 2) std::this_thread::sleep_for(kDrainPause);
  }
}

NfqueueSource::NfqueueSource(const QueueConfig& cfg, uint16_t queue_num, Worker& worker)
    : impl_(std::make_unique<Impl>(cfg, queue_num, worker)), queue_num_(queue_num) {}

size_t NfqueueSource::buffer_bytes(const QueueConfig& cfg) {
  const size_t batch = std::max<uint32_t>(cfg.batch, 1);
  return batch * (slot_bytes() + sizeof(iovec) + sizeof(mmsghdr)) +
         static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE) + kMaxReplacement + 256;
}

NfqueueSource::~NfqueueSource() {
  if (impl_) impl_->unbind_and_close();
}

void NfqueueSource::run(const std::atomic<bool>& stop) { impl_->run(stop); }

std::optional<QueueRow> NfqueueSource::final_row() const { return impl_->final_row; }

}  // namespace tripline
