// Keeps a HostTable in step with the kernel (live only): dumps the neighbour
// table at start and follows its RTM_NEWNEIGH/RTM_DELNEIGH events on a
// NETLINK_ROUTE socket, re-dumping after an overrun; reads the gateway's own
// addresses (the on-link prefixes) at start and again when they change.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <thread>

#include "host_table.h"

struct mnl_socket;

namespace tripline {

class NeighbourError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NeighbourMonitorStats {
  uint64_t messages = 0;  // neighbour messages read (dumps and events)
  uint64_t ignored = 0;   // of those, nothing to learn (proxy, multicast, malformed)
  uint64_t dumps = 0;     // the start one and one per overrun
  uint64_t overruns = 0;  // the event socket lost messages (ENOBUFS)
  uint64_t prefix_reloads = 0;
};

class NeighbourMonitor {
 public:
  // Subscribes, reads the prefixes and dumps the neighbour table into `table`
  // before returning; throws NeighbourError when the socket cannot be opened.
  explicit NeighbourMonitor(HostTable& table);
  ~NeighbourMonitor();  // stops following
  NeighbourMonitor(const NeighbourMonitor&) = delete;
  NeighbourMonitor& operator=(const NeighbourMonitor&) = delete;

  // Follows the events on a thread of its own until destruction.
  void start();
  NeighbourMonitorStats stats() const;

 private:
  void dump();
  void reload_prefixes();
  void run();
  // Applies every neighbour message in a buffer; true when it held NLMSG_DONE.
  bool apply(const uint8_t* buf, size_t len);

  HostTable& table_;
  mnl_socket* events_ = nullptr;  // subscribed to neighbour and address changes
  int wake_fd_ = -1;              // eventfd: stop
  std::thread thread_;
  std::atomic<uint64_t> messages_{0}, ignored_{0}, dumps_{0}, overruns_{0}, prefix_reloads_{0};
};

// The gateway's on-link prefixes now (its interfaces' addresses, loopback left
// out), from getifaddrs(3).
std::vector<OnLinkPrefix> read_on_link_prefixes();

}  // namespace tripline
