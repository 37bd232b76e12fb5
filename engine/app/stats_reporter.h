// The live daemon's EVE `stats` events: a thread that, every [log]
// stats_interval seconds, merges the workers' counters (readable at any time)
// and hands one `stats` event to the event writer. Never touches a worker.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "counters.h"
#include "event_writer.h"
#include "timestamp.h"

namespace tripline {

class StatsReporter {
 public:
  using Snapshot = std::function<CounterSnapshot()>;
  // Starts the thread unless interval_seconds is 0 or events is null; the
  // writer and whatever snapshot reads must outlive the reporter.
  StatsReporter(uint32_t interval_seconds, EventWriter* events, Snapshot snapshot);
  ~StatsReporter();  // stop()
  StatsReporter(const StatsReporter&) = delete;
  StatsReporter& operator=(const StatsReporter&) = delete;

  // Ends the thread (at once, without a last event); idempotent.
  void stop();

 private:
  void run(uint32_t interval_seconds);

  EventWriter* events_;
  Snapshot snapshot_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tripline
