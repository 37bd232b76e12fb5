// The event log: workers hand finished JSON lines to a writer thread through a
// bounded lock-free queue. A full queue drops the event and counts it; a worker
// never waits on disk.
#pragma once

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

namespace tripline {

class EventWriter {
 public:
  // path "-" writes to stdout; otherwise the file is opened for append.
  // Throws std::runtime_error naming the path when it cannot be opened.
  EventWriter(const std::string& path, size_t max_queued);
  ~EventWriter();  // drains the queue, flushes, joins
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Queues one line (without trailing newline). Never blocks; returns false
  // and counts a drop when the queue is full.
  bool submit(std::string line);
  // Waits until everything submitted so far is written and flushed.
  void flush();

  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }

 private:
  void run();

  FILE* out_ = nullptr;
  bool owns_out_ = false;
  size_t max_queued_;
  moodycamel::BlockingConcurrentQueue<std::string> queue_;
  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tripline
