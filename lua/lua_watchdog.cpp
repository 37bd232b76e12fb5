#include "lua_watchdog.h"

#include <time.h>

#include <algorithm>
#include <chrono>

#include "lua_sandbox.h"

namespace tripline {

LuaWatchdog& LuaWatchdog::instance() {
  static LuaWatchdog w;
  return w;
}

LuaWatchdog::~LuaWatchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t LuaWatchdog::now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void LuaWatchdog::add(LuaSandbox* sb, int64_t tick_ns) {
  {
    std::lock_guard lock(mu_);
    entries_.push_back({sb, std::max<int64_t>(tick_ns, 1'000'000)});
    // Started once, on first use; it sleeps without ticking while nothing is registered.
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  cv_.notify_all();
}

void LuaWatchdog::remove(LuaSandbox* sb) {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [sb](const Entry& e) { return e.sb == sb; });
}

void LuaWatchdog::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (entries_.empty()) {
      cv_.wait(lock, [this] { return stop_ || !entries_.empty(); });
      continue;
    }
    int64_t tick = entries_.front().tick_ns;
    for (const Entry& e : entries_) tick = std::min(tick, e.tick_ns);
    cv_.wait_for(lock, std::chrono::nanoseconds(tick));
    if (stop_) break;
    int64_t now = now_ns();
    // Under the lock: a sandbox cannot be destroyed while it is looked at.
    for (const Entry& e : entries_) e.sb->watchdog_check(now);
  }
}

}  // namespace tripline
