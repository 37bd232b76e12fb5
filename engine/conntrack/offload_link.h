// What workers and the conntrack threads share for offload: workers ask for
// marks to be set or cleared (one bounded queue, never blocking them), the
// control thread applies them and remembers which worker owns each offloaded
// connection, and the event thread hands each destroy event to that worker's
// inbox. Every queue is bounded; what does not fit is counted, never waited for.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "ct_tuple.h"

namespace tripline {

enum class CtOp : uint8_t {
  Offload,   // set the mark: the kernel carries the connection from now on
  TakeBack,  // clear it: its packets return to the queue
};

struct CtRequest {
  CtTuple tuple;  // as the worker saw it (its first packet's direction)
  CtOp op = CtOp::Offload;
  bool drop = false;  // Offload of a dropped flow: create the entry if conntrack has none
  uint16_t worker = 0;
  // Offload whose deciding verdict carries the mark, which the ruleset's save
  // rule copies to the connection: request() registers it for its destroy
  // event at once, on the worker, and queues nothing (no ctnetlink update; the
  // worker asks again, without this, if a packet of the flow still reaches
  // the queue).
  bool in_verdict = false;
};

struct OffloadLinkStats {
  uint64_t requests_full = 0;  // requests refused: the queue (or the owner table) was full
  uint64_t offloaded = 0;      // marks the kernel accepted
  uint64_t created = 0;        // of these, entries created for dropped flows
  // Marks refused: by the kernel (entry gone, no permission), or no room in
  // the owner table.
  uint64_t refused = 0;
  uint64_t taken_back = 0;    // marks cleared again
  uint64_t ends = 0;          // destroy events handed to their worker
  uint64_t ends_unknown = 0;  // destroy events of marked entries no worker offloaded
  uint64_t ends_full = 0;     // destroy events a full worker inbox refused
  uint64_t events_lost = 0;   // netlink overruns (ENOBUFS): events the kernel could not deliver
};

class OffloadLink {
 public:
  // Bounds: queued requests, queued ends per worker, and connections
  // registered as offloaded (entries whose destroy event was lost stay).
  OffloadLink(unsigned workers, size_t max_requests = 65536, size_t max_ends = 65536,
              size_t max_owned = size_t{1} << 20);
  OffloadLink(const OffloadLink&) = delete;
  OffloadLink& operator=(const OffloadLink&) = delete;

  unsigned workers() const { return static_cast<unsigned>(inboxes_.size()); }

  // Worker side. False (and counted) when the queue is full. An in-verdict
  // Offload is registered here (will_offload), before its verdict can mark
  // the connection, so that its destroy event finds it; it wakes no thread.
  bool request(const CtRequest& r);
  // Worker `w` only: the next end (or refusal) for one of its flows.
  bool next_end(unsigned w, CtEnd& out);

  // Control thread: the next request.
  bool next_request(CtRequest& out);
  // Control thread: sleeps until a request may be queued, wake() is called
  // or `stop` is set (then wake() must follow). An idle daemon does not wake
  // this thread at all; while it waits, each request() costs its worker a
  // futex wake. May return spuriously.
  void wait_for_request(const std::atomic<bool>& stop);
  // Ends a wait_for_request (after setting its stop flag).
  void wake();
  // Before the kernel is asked (control thread; request() for in-verdict
  // offloads): destroy events of this connection go to r.worker from now on.
  // False (nothing registered) when the owner table is full.
  bool will_offload(const CtRequest& r);
  // Control thread, with the kernel's answer. A refused Offload forgets the
  // connection and tells the worker (CtEndKind::Refused); a TakeBack forgets it.
  void applied(const CtRequest& r, bool ok, bool created);

  // Worker `worker`, whose offloaded flow ended: its registration goes, if
  // the destroy event has not taken it already (the flow timed out, was
  // evicted or gone; its event lost or still to come), so that lost events do
  // not fill the owner table. An event that comes later counts as
  // ends_unknown.
  void forget(const CtTuple& t, uint16_t worker);

  // Event thread: a destroy event of an entry carrying an offload mark. False
  // when no worker offloaded it (counted).
  bool deliver_end(const CtEnd& e);
  void count_events_lost(uint64_t n = 1) { events_lost_.fetch_add(n, std::memory_order_relaxed); }

  // Connections currently offloaded.
  size_t offloaded_now() const;
  OffloadLinkStats stats() const;

 private:
  bool to_worker(unsigned w, const CtEnd& e);

  size_t max_requests_, max_ends_, max_owned_;
  // wait_for_request/wake: bumped to end a wait; whether the control thread
  // may be waiting (a worker's request() only wakes it then).
  std::atomic<uint32_t> signal_{0};
  std::atomic<bool> waiting_{false};
  moodycamel::ConcurrentQueue<CtRequest> requests_;
  std::vector<std::unique_ptr<moodycamel::ConcurrentQueue<CtEnd>>> inboxes_;
  mutable std::mutex mu_;
  absl::flat_hash_map<CtTuple, uint16_t> owner_;  // canonical tuple -> worker
  std::atomic<uint64_t> requests_full_{0}, offloaded_{0}, created_{0}, refused_{0}, taken_back_{0},
      ends_{0}, ends_unknown_{0}, ends_full_{0}, events_lost_{0};
};

}  // namespace tripline
