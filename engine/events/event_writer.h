// The event log: workers hand finished JSON lines to a writer thread through a
// queue bounded in lines and in bytes. A full queue drops the event and counts
// it; a worker never waits on disk or on a reader.
//
// Every line is counted once, by what became of it: dropped (refused at
// submit), written (whole in the log), or lost (accepted but not written: a
// write error, or still queued when shutdown's drain deadline passed). A
// regular file never keeps a cut line: a write that fails part-way is
// truncated back to the last whole line, and a file that ends inside a line
// (a crash) is cut back to its last newline when opened. A FIFO is written
// without blocking: one without a reader does not block start-up (the writer
// opens it when a reader comes, events wait in the bounded queue meanwhile),
// one whose reader stalls costs queued events, never a hung shutdown.
#pragma once

#include <concurrentqueue/blockingconcurrentqueue.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "counter.h"

namespace tripline {

struct EventWriterOptions {
  size_t max_queued = 65536;                       // lines waiting for the writer
  size_t max_queued_bytes = size_t{64} << 20;      // bytes of the lines waiting
  std::chrono::milliseconds drain_timeout{5000};   // flush()/shutdown wait at most this
  std::chrono::milliseconds reopen_interval{500};  // a FIFO without reader: retry open
  std::chrono::seconds error_log_interval{10};     // repeated write errors: one log line
};

// Where the writer counts one submitter's lines (a worker's counters). Only
// the writer thread adds to them.
struct EventSinkCounters {
  Counter* written = nullptr;
  Counter* lost = nullptr;
};

class EventWriter {
 public:
  // path "-" writes to stdout; otherwise the file is opened for append (mode
  // 0640 when created). Throws std::runtime_error naming the path when it
  // cannot be opened (a FIFO without a reader is not an error).
  EventWriter(const std::string& path, EventWriterOptions opts);
  EventWriter(const std::string& path, size_t max_queued);
  // Drains for at most drain_timeout; what is still queued then is counted
  // lost. Then joins.
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // A submitter's counters; lines submitted with the id returned are counted
  // there too. detach() before the counters go; after it returns, the writer
  // no longer touches them.
  int attach(EventSinkCounters counters);
  void detach(int source);

  // Queues one line (without trailing newline). Never blocks; returns false
  // and counts a drop when the queue is full (lines or bytes).
  bool submit(std::string line, int source = -1);
  // Waits until everything submitted so far is written or lost, at most
  // drain_timeout; when the time runs out first (a stalled or absent
  // reader), what was submitted until then is given up and counted lost
  // (within a second), and false is returned. For shutdown.
  bool flush();
  // Reload and log rotation: the writer thread closes the log and opens
  // `path` (the same path once logrotate moved the file away, or a new one)
  // before it writes the next lines; nothing queued is lost. Lines already
  // written stay in the old file. For files, not "-".
  void reopen(std::string path);

  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }
  uint64_t discarded() const { return discarded_.load(std::memory_order_relaxed); }
  uint64_t lost() const { return write_errors() + discarded(); }
  uint64_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }

 private:
  struct Item {
    std::string line;
    int source = -1;
  };

  void run();
  bool open_output();  // writer thread; false while a FIFO has no reader
  void repair_tail();  // a regular file ending inside a line: cut back to its last newline
  void repair_tail(int rfd, off_t size);
  // Writes buf_ (whole lines ending at ends_); returns how many lines made it.
  size_t write_batch();
  bool wait_writable();  // pipes: false when the drain deadline passed
  void account(const Item* items, size_t n, size_t ok);
  void note_error(int err);
  bool abandoning() const;
  uint64_t accounted() const;  // written + write errors + discarded

  std::string path_;
  EventWriterOptions opts_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool regular_ = false;  // a regular file: cut lines are truncated away

  moodycamel::BlockingConcurrentQueue<Item> queue_;
  std::atomic<uint64_t> queued_bytes_{0};
  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> discarded_{0};

  std::mutex sources_mu_;
  std::vector<EventSinkCounters> sources_;  // by id; detached: nulls

  // Writer thread only.
  std::string buf_;
  std::vector<size_t> ends_;
  std::chrono::steady_clock::time_point last_error_log_{};
  bool failing_ = false;

  std::atomic<bool> stop_{false};
  std::mutex reopen_mu_;
  std::string reopen_path_;  // under reopen_mu_
  std::atomic<bool> reopen_{false};
  std::atomic<bool> drain_expired_{false};       // a flush() timed out
  std::atomic<uint64_t> discard_upto_{0};        // lines up to this count are given up
  std::atomic<int64_t> deadline_ns_{INT64_MAX};  // steady clock; past it queued lines are lost
  std::thread thread_;
};

}  // namespace tripline
