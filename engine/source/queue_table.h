// The kernel's table of bound NFQUEUE queues, /proc/net/netfilter/nfnetlink_queue
// (per network namespace): what it counts for each queue.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace tripline {

// One row: queue number, peer port id, packets waiting, copy mode, copy
// range, queue_dropped, user_dropped, id sequence, 1.
struct QueueRow {
  uint32_t queue = 0;
  uint64_t waiting = 0;        // queued, no verdict yet
  uint64_t queue_dropped = 0;  // dropped at a full queue (without fail_open)
  uint64_t user_dropped = 0;   // dropped at a full socket buffer (without fail_open)
  uint64_t id_sequence = 0;    // packet ids given since the bind
};

std::vector<QueueRow> parse_queue_table(std::string_view text);
// This namespace's table, read now (empty when unreadable).
std::vector<QueueRow> read_queue_table();
// The row of `queue`, if it is bound.
std::optional<QueueRow> read_queue_row(uint32_t queue);

}  // namespace tripline
