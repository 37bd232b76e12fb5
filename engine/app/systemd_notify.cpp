#include "systemd_notify.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

namespace tripline {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
}

void SystemdNotifier::send(const std::string& message) {
  if (!enabled_) return;
  int r = sd_notify(0, message.c_str());
  if (r < 0 && !warned_) {
    warned_ = true;
    spdlog::warn("cannot notify systemd (NOTIFY_SOCKET): {}", std::strerror(-r));
  }
}

void SystemdNotifier::ready(const std::string& status) { send("READY=1\nSTATUS=" + status); }

void SystemdNotifier::status(const std::string& status) { send("STATUS=" + status); }

void SystemdNotifier::watchdog_ping() {
  if (watchdog_.count() > 0) send("WATCHDOG=1");
}

void SystemdNotifier::reloading() { send("RELOADING=1\nSTATUS=reloading the configuration"); }

void SystemdNotifier::stopping() { send("STOPPING=1\nSTATUS=stopping"); }

std::vector<size_t> ProgressWatch::stalled(std::span<const uint64_t> progress) {
  std::vector<size_t> stuck;
  for (size_t i = 0; i < progress.size() && i < last_.size(); ++i) {
    if (!first_ && progress[i] == last_[i]) stuck.push_back(i);
    last_[i] = progress[i];
  }
  first_ = false;
  return stuck;
}

std::string packet_rate_status(uint64_t packets_delta, double seconds, uint64_t packets_total,
                               unsigned queue_first, unsigned queue_count) {
  double rate = seconds > 0 ? static_cast<double>(packets_delta) / seconds : 0.0;
  return fmt::format("queues {}..{}: {:.0f} packets/s, {} packets", queue_first,
                     queue_first + queue_count - 1, rate, packets_total);
}

}  // namespace tripline
