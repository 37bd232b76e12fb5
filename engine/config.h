// tripline's configuration: parsed once from TOML into an immutable object that
// workers share read-only. Errors name the file, line and key.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cidr_set.h"
#include "timestamp.h"
#include "verdict.h"

namespace tripline {

struct QueueConfig {
  uint16_t first = 0;           // first NFQUEUE number
  uint16_t count = 1;           // queues first .. first+count-1, one worker each
  bool fail_open = true;        // NFQA_CFG_F_FAIL_OPEN: accept when the queue is full
  uint32_t copy_range = 0xffff; // bytes of each packet copied to us
  bool gso = true;              // NFQA_CFG_F_GSO: take GSO packets unsegmented
  uint32_t max_len = 4096;      // kernel queue length (packets)
  uint32_t rcvbuf = 8u << 20;   // netlink socket receive buffer, bytes
  uint32_t batch = 64;          // datagrams per recvmmsg
  Verdict default_verdict = Verdict::Accept;
};

struct NetworkConfig {
  CidrSet inside;  // the local side; defaults: RFC 1918, 100.64/10, fd00::/8, fe80::/10
};

struct FlowConfig {
  Timestamp tcp_new = seconds(30);          // handshake not complete
  Timestamp tcp_established = seconds(3600);
  Timestamp tcp_closing = seconds(120);     // FIN seen in one direction
  Timestamp tcp_closed = seconds(10);       // after FIN both ways or RST: linger for stragglers
  Timestamp udp = seconds(60);
  Timestamp icmp = seconds(30);
  Timestamp other = seconds(60);
  uint32_t capacity = 65536;                // flows per worker; the stalest is evicted beyond
  uint32_t fragments = 4096;                // fragment-id entries per worker
};

struct LogConfig {
  std::string events;          // JSON lines path; "" = none, "-" = stdout
  uint32_t queue_events = 65536;  // writer queue bound; overflow is counted and dropped
};

struct Config {
  QueueConfig queue;
  NetworkConfig network;
  FlowConfig flows;
  LogConfig log;
  std::string source = "<built-in defaults>";  // file it came from

  static Config defaults();
  // Parses a TOML file; throws ConfigError.
  static Config load_file(const std::string& path);
  // Parses TOML text; `name` is used in error messages.
  static Config load_string(std::string_view text, const std::string& name);
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;  // message: "file:line: key: what"
};

}  // namespace tripline
