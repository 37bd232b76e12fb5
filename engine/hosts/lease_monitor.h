// Keeps ClientNames in step with DHCP lease files ([clients] leases): polls
// each file's identity, size and modification time on a thread of its own
// (off the packet path) and, when any changed, reads them all again (bounded)
// and replaces the names. A missing, unreadable or malformed file is a
// warning, reported once per change of that file, never a stop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_names.h"

namespace tripline {

struct LeaseMonitorStats {
  uint64_t loads = 0;        // times the files were read (a change seen)
  uint64_t file_errors = 0;  // a file missing, unreadable or not a lease file (once per change)
  uint64_t malformed = 0;    // lines/blocks not understood (once per change of their file)
  uint64_t names = 0;        // named addresses after the last load
};

class LeaseMonitor {
 public:
  static constexpr size_t kMaxFileBytes = 64u << 20;
  using Warn = std::function<void(const std::string&)>;
  using Clock = std::function<int64_t()>;  // seconds since the epoch

  // warn receives one line per problem; now tells which leases have expired.
  LeaseMonitor(ClientNames& names, std::vector<std::string> paths, Warn warn, Clock now = {});
  ~LeaseMonitor();  // stops the thread
  LeaseMonitor(const LeaseMonitor&) = delete;
  LeaseMonitor& operator=(const LeaseMonitor&) = delete;

  // Checks the files once; reloads them all when any changed since the last
  // check (always on the first). True when it reloaded.
  bool poll();
  // Polls every `interval` on a thread of its own until destruction.
  void start(std::chrono::milliseconds interval);
  LeaseMonitorStats stats() const;

 private:
  struct Signature {
    int error = -1;  // errno of stat (0: exists); -1: never looked
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    friend bool operator==(const Signature&, const Signature&) = default;
  };
  static Signature signature_of(const std::string& path);

  ClientNames& names_;
  std::vector<std::string> paths_;
  std::vector<Signature> seen_;
  Warn warn_;
  Clock now_;
  mutable std::mutex stats_mu_;
  LeaseMonitorStats stats_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tripline
