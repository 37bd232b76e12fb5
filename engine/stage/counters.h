// Per-worker counters: each worker is the only writer of its own set (relaxed
// atomic load+store, no locked instructions); readers merge all sets into a
// snapshot at any time (end of replay, SIGUSR1, tests).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "capture_recorder.h"
#include "counter.h"
#include "decode.h"
#include "duration_histogram.h"
#include "eve.h"

namespace tripline {

// X-macro: every scalar counter once, with its printed name.
#define TRIPLINE_COUNTERS(X)                              \
  X(packets, "packets")                                   \
  X(bytes, "bytes")                                       \
  X(verdict_accept, "verdict_accept")                     \
  X(verdict_drop, "verdict_drop")                         \
  X(verdict_reject, "verdict_reject")                     \
  X(verdict_marked, "verdict_marked")                     \
  X(decode_errors, "decode_errors")                       \
  X(not_ip, "not_ip")                                     \
  X(fragments, "fragments")                               \
  X(fragments_unmatched, "fragments_unmatched")           \
  X(flows_created, "flows_created")                       \
  X(flows_ended, "flows_ended")                           \
  X(flows_timed_out, "flows_timed_out")                   \
  X(flows_evicted, "flows_evicted")                       \
  X(events_written, "events_written")                     \
  X(events_dropped, "events_dropped")                     \
  X(events_lost, "events_lost")                           \
  X(nfq_batches, "nfq_recv_batches")                      \
  X(nfq_enobufs, "nfq_enobufs")                           \
  X(nfq_verdict_errors, "nfq_verdict_errors")             \
  X(nfq_verdict_msgs, "nfq_verdict_msgs")                 \
  X(nfq_lost_ids, "nfq_lost_ids")                         \
  X(nfq_uninspected, "nfq_uninspected")                   \
  X(nfq_queue_dropped, "nfq_queue_dropped")               \
  X(nfq_user_dropped, "nfq_user_dropped")                 \
  X(dns_queries, "dns_queries")                           \
  X(dns_answers, "dns_answers")                           \
  X(dns_answers_trusted, "dns_answers_trusted")           \
  X(dns_answers_unmatched, "dns_answers_unmatched")       \
  X(dns_answers_duplicate, "dns_answers_duplicate")       \
  X(dns_answers_late, "dns_answers_late")                 \
  X(dns_answers_no_question, "dns_answers_no_question")   \
  X(dns_would_drop, "dns_would_drop")                     \
  X(dns_truncated_by_capture, "dns_truncated_by_capture") \
  X(dns_answers_untrusted, "dns_answers_untrusted")       \
  X(dns_parse_errors, "dns_parse_errors")                 \
  X(dns_outstanding_full, "dns_outstanding_full")         \
  X(dns_addresses_opened, "dns_addresses_opened")         \
  X(dns_blocked, "dns_blocked")                           \
  X(dns_rewritten, "dns_rewritten")                       \
  X(dns_tcp_messages, "dns_tcp_messages")                 \
  X(dns_tcp_resyncs, "dns_tcp_resyncs")                   \
  X(dns_fragments, "dns_fragments")                       \
  X(dns_reassembled, "dns_reassembled")                   \
  X(dns_fragments_dropped, "dns_fragments_dropped")       \
  X(dns_fragments_table_full, "dns_fragments_table_full") \
  X(dns_fragments_timed_out, "dns_fragments_timed_out")   \
  X(egress_allowed, "egress_allowed")                     \
  X(egress_blocked, "egress_blocked")                     \
  X(egress_would_block, "egress_would_block")             \
  X(lua_calls, "lua_calls")                               \
  X(lua_errors, "lua_errors")                             \
  X(lua_budget_exceeded, "lua_budget_exceeded")           \
  X(lua_time_exceeded, "lua_time_exceeded")               \
  X(lua_memory_exceeded, "lua_memory_exceeded")           \
  X(lua_verdicts, "lua_verdicts")                         \
  X(lua_disabled, "lua_disabled")                         \
  X(lua_shared_evicted, "lua_shared_evicted")             \
  X(capture_sessions_started, "capture_sessions_started") \
  X(capture_sessions_refused, "capture_sessions_refused") \
  X(capture_packets, "capture_packets")                   \
  X(capture_dropped, "capture_dropped")                   \
  X(capture_lost, "capture_lost")                         \
  X(offload_requested, "offload_requested")               \
  X(offload_with_verdict, "offload_with_verdict")         \
  X(offload_returned, "offload_returned")                 \
  X(offload_refused, "offload_refused")                   \
  X(offload_taken_back, "offload_taken_back")             \
  X(offload_ends, "offload_ends")                         \
  X(offload_ends_stale, "offload_ends_stale")             \
  X(offload_late_packets, "offload_late_packets")         \
  X(offload_gone, "offload_gone")                         \
  X(offload_requests_full, "offload_requests_full")       \
  X(offload_ends_unknown, "offload_ends_unknown")         \
  X(offload_ends_full, "offload_ends_full")               \
  X(offload_events_lost, "offload_events_lost")           \
  X(adopted, "adopted")                                   \
  X(flows_rejudged, "flows_rejudged")

struct CounterSnapshot;

// Counters a stage names when a worker is set up (one per policy rule,
// "rule.<name>"): added when stages are built (at start and on reload, on the
// worker's thread), otherwise only counted into. A name added again gets the
// counter it already has, so a reload keeps the counts. A deque: references
// handed out stay valid as more are added; the lock keeps readers (snapshots
// from other threads) apart from an add.
class NamedCounters {
 public:
  Counter& add(std::string name) {
    std::lock_guard lock(mu_);
    for (auto& item : items_)
      if (item.first == name) return item.second;
    return items_
        .emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(name)),
                      std::forward_as_tuple())
        .second;
  }
  // Calls f(name, counter) for each, in the order added, under the lock.
  template <typename F>
  void for_each(F f) const {
    std::lock_guard lock(mu_);
    for (const auto& item : items_) f(item.first, item.second);
  }
  // Unlocked: only while nothing can add (single-threaded tests).
  const std::deque<std::pair<std::string, Counter>>& items() const { return items_; }

 private:
  mutable std::mutex mu_;
  std::deque<std::pair<std::string, Counter>> items_;
};

struct Counters {
#define TRIPLINE_DECLARE(field, name) Counter field;
  TRIPLINE_COUNTERS(TRIPLINE_DECLARE)
#undef TRIPLINE_DECLARE
  Counter decode_error[static_cast<size_t>(DecodeError::kCount)];
  NamedCounters named;
  // Durations for the metrics endpoint (app/metrics_exporter.h): receive to
  // verdict per packet (live source, per received batch) and per call into Lua.
  DurationHistogram verdict_latency;
  DurationHistogram lua_call_time;
};

// The capture recorder's view of a worker's counters.
inline CaptureCounters capture_counters(Counters& c) {
  return {c.capture_sessions_started, c.capture_sessions_refused, c.capture_packets,
          c.capture_dropped, c.capture_lost};
}

struct CounterSnapshot {
#define TRIPLINE_DECLARE(field, name) uint64_t field = 0;
  TRIPLINE_COUNTERS(TRIPLINE_DECLARE)
#undef TRIPLINE_DECLARE
  uint64_t decode_error[static_cast<size_t>(DecodeError::kCount)] = {};
  // Named counters of all workers, summed by name, in first-seen order.
  std::vector<std::pair<std::string, uint64_t>> named;

  void add(const Counters& c);
  // "name value" lines, zero decode reasons omitted; stable order; named
  // counters ("rule.<name> N") after the fixed ones.
  std::string to_text() const;
  // One JSON object {"packets": N, ..., "rule.<name>": N, ...,
  // "decode_error": {"ipv4_truncated": N}}.
  std::string to_json() const;
  // The EVE `stats` event of these counters (events/eve_stats.cpp lays it out).
  std::string stats_event(EveBuilder& eve, Timestamp now, uint64_t uptime_seconds) const;
};

}  // namespace tripline
