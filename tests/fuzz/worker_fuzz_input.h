// The input format of the worker fuzz targets (pipeline_fuzz, triggers_fuzz)
// and the checks every worker must pass on it: after the first byte (the
// target's variant), records of 1 byte of clock step in 100 ms units, 2 bytes
// of length and a raw IP packet.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "counters.h"
#include "worker.h"

namespace tripline::fuzz {

inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz target: invariant violated: %s\n", what);
  std::abort();
}

// Feeds every record to the worker, checks each decision is sane, calls
// `each(decision)` for target-specific checks, then shuts the worker down and
// checks that every packet was counted once with exactly one verdict.
// Returns how many packets were fed.
template <typename Each>
uint64_t run_records(Worker& worker, const uint8_t* data, size_t size, Each&& each) {
  Timestamp now = seconds(1767225600);  // 2026-01-01
  size_t off = 1;
  uint64_t packets = 0;
  while (off + 3 <= size) {
    now += static_cast<Timestamp>(data[off]) * seconds(1) / 10;
    size_t len = static_cast<size_t>(data[off + 1]) << 8 | data[off + 2];
    off += 3;
    len = std::min(len, size - off);
    Decision d = worker.process(LinkType::Raw, std::span<const uint8_t>(data + off, len), now);
    off += len;
    ++packets;
    check(
        d.verdict == Verdict::Accept || d.verdict == Verdict::Drop || d.verdict == Verdict::Reject,
        "verdict in range");
    check(!d.reason.empty(), "every decision has a reason");
    each(d);
  }
  worker.shutdown(now);
  const Counters& c = worker.counters();
  check(c.packets.get() == packets, "every packet counted once");
  check(c.verdict_accept.get() + c.verdict_drop.get() + c.verdict_reject.get() == packets,
        "exactly one verdict per packet");
  return packets;
}

}  // namespace tripline::fuzz
