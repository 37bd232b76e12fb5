#include "event_writer.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace tripline {

EventWriter::EventWriter(const std::string& path, size_t max_queued) : max_queued_(max_queued) {
  if (path == "-") {
    out_ = stdout;
  } else {
    out_ = std::fopen(path.c_str(), "a");
    if (!out_)
      throw std::runtime_error("cannot open event log " + path + ": " + std::strerror(errno));
    owns_out_ = true;
  }
  thread_ = std::thread([this] { run(); });
}

EventWriter::~EventWriter() {
  stop_.store(true, std::memory_order_release);
  queue_.enqueue(std::string());  // wake the writer
  thread_.join();
  if (owns_out_) std::fclose(out_);
}

bool EventWriter::submit(std::string line) {
  if (queue_.size_approx() >= max_queued_ || line.empty()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  submitted_.fetch_add(1, std::memory_order_relaxed);
  if (!queue_.enqueue(std::move(line))) {
    submitted_.fetch_sub(1, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void EventWriter::flush() {
  while (written_.load(std::memory_order_acquire) + write_errors_.load(std::memory_order_acquire) <
         submitted_.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void EventWriter::run() {
  std::string batch[64];
  for (;;) {
    size_t n = queue_.wait_dequeue_bulk_timed(batch, 64, std::chrono::milliseconds(200));
    size_t done = 0;
    for (size_t i = 0; i < n; ++i) {
      if (batch[i].empty()) continue;  // wake-up marker
      batch[i].push_back('\n');
      if (std::fwrite(batch[i].data(), 1, batch[i].size(), out_) == batch[i].size()) {
        ++done;
      } else {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
      }
      batch[i].clear();
    }
    if (n > 0) std::fflush(out_);
    written_.fetch_add(done, std::memory_order_release);
    if (stop_.load(std::memory_order_acquire) && queue_.size_approx() == 0) break;
  }
}

}  // namespace tripline
