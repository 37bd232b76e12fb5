// The kernel side of offload: two netlink sockets to ctnetlink and the two
// threads that use them. The control thread sets and clears offload marks
// (OffloadLink requests); the event thread reads destroy events and hands the
// offloaded ones, with the kernel's counters, to their workers. Also the
// one-off table dump that restart adoption reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ct_message.h"
#include "ct_tuple.h"
#include "offload_link.h"

struct mnl_socket;

namespace tripline {

class ConntrackError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConntrackMarks {
  uint32_t accept = 0;  // conntrack mark (under mask) of offloaded accepted connections
  uint32_t drop = 0;    // ... of offloaded dropped ones
  uint32_t mask = 0;
  uint32_t create_timeout = 120;  // seconds, entries created for dropped flows
};

// A ctnetlink socket. Throws ConntrackError (saying what is missing) when
// conntrack cannot be reached: no nf_conntrack_netlink, no CAP_NET_ADMIN.
class CtSocket {
 public:
  explicit CtSocket(unsigned groups = 0);
  ~CtSocket();
  CtSocket(const CtSocket&) = delete;
  CtSocket& operator=(const CtSocket&) = delete;

  // Sends one request and waits for its ack: 0 or the kernel's errno.
  int request(std::span<const uint8_t> msg);
  // Every TCP/UDP entry of the table (both families). Throws ConntrackError.
  std::vector<CtEntry> dump();
  mnl_socket* raw() { return sock_; }

 private:
  mnl_socket* sock_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
};

// Connections conntrack already tracks as established (TCP ESTABLISHED, UDP
// with replies), for adoption at start. Throws ConntrackError.
std::vector<CtTuple> dump_established();

class ConntrackService {
 public:
  // Opens both sockets; throws ConntrackError. Starts nothing.
  ConntrackService(OffloadLink& link, const ConntrackMarks& marks);
  ~ConntrackService();  // stop()
  void start();
  // Whether the kernel passes only offloaded connections' destroy events (a
  // socket filter on the mark); if not, every connection's end is read and
  // the others are skipped here, which costs CPU under many short connections.
  bool events_filtered_in_kernel() const { return events_filtered_; }
  // Stops both threads (requests still queued are dropped: the flows they
  // name stay with the engine).
  void stop();

 private:
  void run_control();
  void run_events();
  void apply(const CtRequest& r);

  OffloadLink& link_;
  ConntrackMarks marks_;
  CtSocket control_;
  CtSocket events_;
  bool events_filtered_ = false;
  std::atomic<bool> stop_{false};
  std::thread control_thread_, event_thread_;
};

}  // namespace tripline
