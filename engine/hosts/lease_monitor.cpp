#include "lease_monitor.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "bounded_file.h"

namespace tripline {

LeaseMonitor::LeaseMonitor(ClientNames& names, std::vector<std::string> paths, Warn warn, Clock now)
    : names_(names),
      paths_(std::move(paths)),
      seen_(paths_.size()),
      warn_(std::move(warn)),
      now_(std::move(now)) {
  if (!now_) now_ = [] { return static_cast<int64_t>(::time(nullptr)); };
}

LeaseMonitor::~LeaseMonitor() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

LeaseMonitor::Signature LeaseMonitor::signature_of(const std::string& path) {
  Signature s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    s.error = errno;
    return s;
  }
  s.error = 0;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  return s;
}

bool LeaseMonitor::poll() {
  std::vector<Signature> now_seen(paths_.size());
  bool changed = false;
  for (size_t i = 0; i < paths_.size(); ++i) {
    now_seen[i] = signature_of(paths_[i]);
    if (now_seen[i] != seen_[i]) changed = true;
  }
  if (!changed) return false;

  std::vector<Lease> all;
  uint64_t errors = 0, malformed = 0;
  int64_t now = now_();
  for (size_t i = 0; i < paths_.size(); ++i) {
    const std::string& path = paths_[i];
    bool report = now_seen[i] != seen_[i];  // warn once per change of this file
    BoundedFileRead file = read_regular_file(path, kMaxFileBytes);
    if (!file.ok) {
      if (report) {
        ++errors;
        warn_(file.missing
                  ? "DHCP lease file " + path + " does not exist (yet): its clients stay unnamed"
                  : "DHCP lease file not read: " + file.error);
      }
      continue;
    }
    LeaseParse p = parse_leases(file.bytes, now);
    if (p.format == LeaseFormat::Unknown) {
      if (report) {
        ++errors;
        warn_("DHCP lease file " + path +
              " is not a dnsmasq, ISC dhcpd or Kea lease file: its clients stay unnamed");
      }
      continue;
    }
    if (report && p.malformed > 0) {
      malformed += p.malformed;
      warn_("DHCP lease file " + path + " (" + to_string(p.format) +
            "): " + std::to_string(p.malformed) + " entries not understood, the first at line " +
            std::to_string(p.first_malformed));
    }
    if (report && p.over_limit > 0)
      warn_("DHCP lease file " + path + ": " + std::to_string(p.over_limit) +
            " leases past the limit left unnamed");
    for (Lease& l : p.leases) all.push_back(std::move(l));
  }
  names_.replace(all);
  seen_ = std::move(now_seen);
  std::lock_guard lock(stats_mu_);
  ++stats_.loads;
  stats_.file_errors += errors;
  stats_.malformed += malformed;
  stats_.names = names_.size();
  return true;
}

void LeaseMonitor::start(std::chrono::milliseconds interval) {
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, interval, [this] { return stop_; })) {
      lock.unlock();
      poll();
      lock.lock();
    }
  });
}

LeaseMonitorStats LeaseMonitor::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

}  // namespace tripline
