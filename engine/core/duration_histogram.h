// A histogram of durations with one writer: fixed bucket bounds (1 µs .. 1 s,
// 1-2.5-5 steps, as Prometheus histograms usually have), each bucket a
// relaxed atomic load+store like Counter (no lock, no locked instruction, no
// allocation). Any thread may read it at any time; the metrics exporter turns
// it into a Prometheus histogram when scraped.
#pragma once

#include <time.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "counter.h"

namespace tripline {

// CLOCK_MONOTONIC in nanoseconds, for durations (a vDSO call, no syscall).
inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

class DurationHistogram {
 public:
  // Upper bounds of the finite buckets, in nanoseconds; a last bucket takes
  // everything above (+Inf).
  static constexpr std::array<uint64_t, 19> kBoundsNs = {
      1'000,      2'500,       5'000,       10'000,      25'000,       50'000,     100'000,
      250'000,    500'000,     1'000'000,   2'500'000,   5'000'000,    10'000'000, 25'000'000,
      50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000};
  static constexpr size_t kBuckets = kBoundsNs.size() + 1;

  // `n` observations of `ns` nanoseconds each (a batch of packets that waited
  // the same time).
  void observe(uint64_t ns, uint64_t n = 1) {
    buckets_[index(ns)].add(n);
    sum_ns_.add(ns * n);
  }
  static size_t index(uint64_t ns) {
    size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    return i;
  }
  // Observations in bucket i alone (not cumulative).
  uint64_t bucket(size_t i) const { return buckets_[i].get(); }
  uint64_t sum_ns() const { return sum_ns_.get(); }
  uint64_t count() const {
    uint64_t n = 0;
    for (const Counter& b : buckets_) n += b.get();
    return n;
  }

 private:
  std::array<Counter, kBuckets> buckets_;
  Counter sum_ns_;
};

}  // namespace tripline
