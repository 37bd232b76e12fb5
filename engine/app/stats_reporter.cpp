#include "stats_reporter.h"

#include <chrono>

#include "eve.h"

namespace tripline {

StatsReporter::StatsReporter(uint32_t interval_seconds, EventWriter* events, Snapshot snapshot)
    : events_(events), snapshot_(std::move(snapshot)) {
  if (interval_seconds > 0 && events_)
    thread_ = std::thread([this, interval_seconds] { run(interval_seconds); });
}

StatsReporter::~StatsReporter() { stop(); }

void StatsReporter::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsReporter::run(uint32_t interval_seconds) {
  EveBuilder eve;
  const auto started = std::chrono::steady_clock::now();
  auto next = started;
  std::unique_lock lk(mu_);
  for (;;) {
    next += std::chrono::seconds(interval_seconds);
    if (cv_.wait_until(lk, next, [this] { return stop_; })) return;
    lk.unlock();
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started);
    // A full queue drops the event; the writer counts it (events_dropped).
    events_->submit(
        snapshot_().stats_event(eve, wall_clock_now(), static_cast<uint64_t>(uptime.count())));
    lk.lock();
  }
}

}  // namespace tripline
