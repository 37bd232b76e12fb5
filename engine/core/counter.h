// One event counter with a single writer: relaxed atomic load+store (no locked
// instruction on the hot path), readable from any thread at any time.
#pragma once

#include <atomic>
#include <cstdint>

namespace tripline {

class Counter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace tripline
