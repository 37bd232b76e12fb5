// The wall-clock bound on calls into Lua: one thread per process watches every
// sandbox that has a call running and interrupts a call that overruns its
// deadline with lua_sethook (the one Lua call that is safe from another thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace tripline {

class LuaSandbox;

class LuaWatchdog {
 public:
  // The process's watchdog; its thread runs while at least one sandbox is registered.
  static LuaWatchdog& instance();

  // A sandbox registers for its whole life; `tick_ns` is how often it wants
  // to be looked at (a fraction of its per-call limit).
  void add(LuaSandbox* sb, int64_t tick_ns);
  // After remove() returns the watchdog no longer touches `sb`.
  void remove(LuaSandbox* sb);

  // Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
  static int64_t now_ns();

 private:
  LuaWatchdog() = default;
  ~LuaWatchdog();
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stop_ = false;
  struct Entry {
    LuaSandbox* sb;
    int64_t tick_ns;
  };
  std::vector<Entry> entries_;
};

}  // namespace tripline
