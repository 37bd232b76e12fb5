// The live source: one NFQUEUE bound through libmnl/libnetfilter_queue, fed to
// one Worker on its own thread. Receives in batches (recvmmsg), sends verdicts
// in batches where consecutive packets share one, and on stop gives every
// packet it holds or can still read its verdict before unbinding.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "config.h"
#include "queue_table.h"
#include "worker.h"

struct mnl_socket;

namespace tripline {

class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class NfqueueSource {
 public:
  // Opens the netlink socket and binds queue `queue_num` with the configured
  // flags (fail-open, GSO, copy range, queue length, receive buffer). Throws
  // SourceError with a clear message when privileges are missing
  // (CAP_NET_ADMIN) or the queue is already bound by another process.
  NfqueueSource(const QueueConfig& cfg, uint16_t queue_num, Worker& worker);
  ~NfqueueSource();  // unbinds and closes
  NfqueueSource(const NfqueueSource&) = delete;
  NfqueueSource& operator=(const NfqueueSource&) = delete;

  // Receives and judges packets until `stop` becomes true (checked at least
  // every 100 ms), then drains what the kernel still holds for this queue,
  // judges it, and returns. Calls worker.tick() while idle.
  void run(const std::atomic<bool>& stop);

  uint16_t queue_num() const { return queue_num_; }
  // The kernel's counts for this queue (/proc/net/netfilter/nfnetlink_queue)
  // as read by run() after its drain, just before it unbound the queue (the
  // row goes away then); nullopt before run() returned.
  std::optional<QueueRow> final_row() const;

  // Bytes one source allocates for its receive slots and verdict buffer with
  // this configuration (all of it at construction).
  static size_t buffer_bytes(const QueueConfig& cfg);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t queue_num_;
};

}  // namespace tripline
