// What the configuration turns into at start: the shared services (DNS cache,
// domain lists) and the stages every worker gets. Built once from an
// immutable Config; live and replay use the same Pipeline.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "config.h"
#include "lua_triggers.h"
#include "worker.h"

namespace tripline {

class CaptureWriter;
class DnsCache;
class HostTable;
class NeighbourMonitor;
class DomainSet;
class NameRuleChain;
class RuleSet;
class SharedStore;

class Pipeline {
 public:
  // Check: loads and validates everything but starts nothing (no capture
  // writer, no state file).
  enum class Mode { Live, Replay, Check };
  // Loads everything the config names (lists, trigger script; live: the DNS
  // cache state file); throws ConfigError with file:line context on bad input.
  Pipeline(std::shared_ptr<const Config> cfg, Mode mode);
  ~Pipeline();

  // Adds this pipeline's stages to a worker.
  StageFactory stage_factory();
  // Human-readable summary for `tripline check`.
  std::string describe() const;
  // Live: saves the DNS cache every save_interval seconds (and purges it)
  // until shutdown().
  void start_housekeeping();
  // Stops housekeeping; live: saves the DNS cache state.
  void shutdown();

  DnsCache* dns_cache() { return cache_.get(); }
  const HostTable* host_table() const { return hosts_.get(); }
  const RuleSet* rules() const { return rules_.get(); }
  const NameRuleChain* dns_rules() const { return dns_rules_.get(); }
  CaptureWriter* capture_writer() { return capture_.get(); }
  SharedStore* shared_store() { return shared_.get(); }

 private:
  void save_state();
  void load_dns();
  void load_hosts();
  std::string describe_clients() const;

  std::shared_ptr<const Config> cfg_;
  Mode mode_;
  std::unique_ptr<DnsCache> cache_;
  std::unique_ptr<HostTable> hosts_;              // who clients are (with the DNS cache)
  std::unique_ptr<NeighbourMonitor> neighbours_;  // live, client_identity = "host"
  std::shared_ptr<const DomainSet> block_;
  std::shared_ptr<const DomainSet> allow_;
  std::unique_ptr<NameRuleChain> dns_rules_;  // chain dns (answer names); null when none
  std::unique_ptr<RuleSet> rules_;  // [[rule]] and the egress chain; null when there are none
  std::optional<LuaScript> lua_;
  // tripline.incr/get/set/del: one store for every worker's Lua state, here
  // so that it outlives them (and a script reload). Null without a script.
  std::unique_ptr<SharedStore> shared_;
  std::unique_ptr<CaptureWriter> capture_;
  std::string load_summary_;
  bool state_not_saved_ = false;  // the state file did not load: it is never overwritten
  std::thread housekeeping_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace tripline
