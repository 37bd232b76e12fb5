// Tells systemd how the daemon is doing (Type=notify): READY once every queue
// is bound, STATUS with the packet rate, WATCHDOG pings only while every
// worker makes progress, STOPPING on shutdown. Without NOTIFY_SOCKET (not
// started by systemd) every call does nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tripline {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (sd_watchdog_enabled).
  SystemdNotifier();

  bool enabled() const { return enabled_; }
  // The watchdog timeout systemd asked for (WatchdogSec=); zero: none.
  std::chrono::microseconds watchdog() const { return watchdog_; }

  void ready(const std::string& status);
  void status(const std::string& status);
  void watchdog_ping();
  void stopping();
  // A reload started; ready() again when it is done.
  void reloading();

 private:
  void send(const std::string& message);

  bool enabled_ = false;
  std::chrono::microseconds watchdog_{0};
  bool warned_ = false;
};

// Whether every worker made progress since the previous check: the watchdog is
// fed only then, so a worker stuck in one packet (a script in a long C call, a
// hang) stops the pings and systemd restarts the daemon.
class ProgressWatch {
 public:
  explicit ProgressWatch(size_t workers) : last_(workers, 0), first_(true) {}
  // `progress[i]` is worker i's Worker::progress(). Returns the workers whose
  // value did not change since the previous call (none on the first call).
  std::vector<size_t> stalled(std::span<const uint64_t> progress);

 private:
  std::vector<uint64_t> last_;
  bool first_;
};

// "12.3 kpackets/s"-style text for STATUS: packets per second over `seconds`.
std::string packet_rate_status(uint64_t packets_delta, double seconds, uint64_t packets_total,
                               unsigned queue_first, unsigned queue_count);

}  // namespace tripline
