// What the control socket's commands do: status, flows, dns lookup/flush,
// capture list/start/stop, reload. Runs on the control server's thread; a
// worker's flow table and capture sessions are read by the worker itself
// (WorkerMailbox), bounded in time; the DNS cache is shared and locked.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config.h"
#include "control_protocol.h"
#include "counters.h"
#include "timestamp.h"

namespace tripline {

class DnsCache;
class Worker;

struct ControlTargets {
  std::string version;
  std::vector<Worker*> workers;
  DnsCache* dns = nullptr;  // null: no DNS cache
  std::function<CounterSnapshot()> counters;
  std::function<void()> reload;                    // asks for a reload (the daemon raises SIGHUP)
  std::function<nlohmann::json()> extra_status;    // more status fields (may be empty)
  std::chrono::milliseconds worker_timeout{1000};  // all workers together, per request
};

class ControlService {
 public:
  ControlService(std::shared_ptr<const Config> cfg, ControlTargets targets);
  // A checked request -> its response line. Never throws for a bad argument.
  std::string handle(const ControlRequest& req);
  // Takes a packet-rate sample of every worker (the server calls it about
  // once a second): status shows packets/s over the last sample interval.
  void sample();

 private:
  std::string status();
  std::string flows(const nlohmann::json& args);
  std::string dns_lookup(const nlohmann::json& args);
  std::string dns_flush(const nlohmann::json& args);
  std::string capture_list();
  std::string capture_start(const nlohmann::json& args);
  std::string capture_stop(const nlohmann::json& args);

  std::shared_ptr<const Config> cfg_;
  ControlTargets t_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::vector<uint64_t> packets;
  };
  Sample prev_, last_;
  // Captures started here: our id -> (worker, its session id) per worker.
  struct Capture {
    std::string host;
    std::vector<std::pair<unsigned, uint64_t>> sessions;
  };
  std::map<uint64_t, Capture> captures_;
  uint64_t next_capture_ = 1;
};

}  // namespace tripline
