// Packets that crossed without tripline seeing them. The kernel counts
// neither packets accepted because a queue was full (fail_open) nor packets
// passed by `bypass` while no tripline was bound to their queue, and such
// packets take no packet id; the queue rule's own counter counts them. So:
// (rule counter now - at start) - (ids the kernel gave on our queues, from
// /proc/net/netfilter/nfnetlink_queue) - (packets it dropped at a full queue)
// is what went through uninspected. Read every few seconds on a thread of its
// own; a rise is logged as a warning.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config.h"
#include "queue_table.h"

namespace tripline {

struct CounterSnapshot;

// Sum of the packet counters of the NFQUEUE rules in `iptables -L CHAIN -v -x
// -n` output that send to a queue in first..last; nullopt without such a rule.
std::optional<uint64_t> parse_iptables_counter(std::string_view text, uint16_t first,
                                               uint16_t last);
// The same for `nft list table inet tripline`: rules with a `counter` and a
// `queue` statement.
std::optional<uint64_t> parse_nft_counter(std::string_view text);

class QueueAccounting {
 public:
  // `lost_ids` returns the workers' nfq_lost_ids sum (packets numbered but not
  // delivered: socket full).
  QueueAccounting(const QueueConfig& cfg, std::function<uint64_t()> lost_ids);
  ~QueueAccounting();  // stops the thread
  QueueAccounting(const QueueAccounting&) = delete;
  QueueAccounting& operator=(const QueueAccounting&) = delete;

  // Reads the rule counter's starting value (call before binding: packets
  // bypassed while the queues are being bound count) and starts reading
  // every `interval`.
  void start(std::chrono::milliseconds interval);
  // One more reading now. At shutdown, once the queues are unbound (their
  // /proc rows gone), `final_rows` are each queue's rows as its source read
  // them just before unbinding (index = queue - first).
  void poll(const std::vector<std::optional<QueueRow>>& final_rows = {});
  // Stops the thread.
  void stop();
  // Sets nfq_uninspected, nfq_queue_dropped and nfq_user_dropped.
  void add_to(CounterSnapshot& snap) const;
  bool has_rule_counter() const { return baseline_.has_value(); }

 private:
  std::optional<uint64_t> read_rule_counter() const;

  const QueueConfig cfg_;
  std::function<uint64_t()> lost_ids_;
  std::optional<uint64_t> baseline_;
  RuleCounter source_ = RuleCounter::Off;  // the one found (auto resolved)
  std::mutex poll_mu_;                     // poll() from the thread and at shutdown
  std::atomic<uint64_t> uninspected_{0};
  std::atomic<uint64_t> queue_dropped_{0};
  std::atomic<uint64_t> user_dropped_{0};
  // Per queue (index = queue - first), the highest value read: the rows go
  // away when a queue is unbound.
  std::vector<uint64_t> ids_, qdrop_, udrop_;
  uint64_t warned_lost_ids_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tripline
