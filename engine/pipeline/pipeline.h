// What the configuration turns into at start: the shared services (DNS cache,
// domain lists) and the stages every worker gets. Built from an immutable
// Config; live and replay use the same Pipeline. Live, reload() builds the
// stages' inputs (lists, rule chains, script) from a new Config and publishes
// them; each worker rebuilds its stages from them between two batches, while
// flows, the DNS cache, the host table and capture sessions stay.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "lua_triggers.h"
#include "worker.h"

namespace tripline {

class CaptureWriter;
class ConntrackService;
class OffloadLink;
struct CtTuple;
class DnsCache;
class ClientNames;
class HostTable;
class LeaseMonitor;
class NeighbourMonitor;
class DomainSet;
class NameRuleChain;
class RuleSet;
struct StageInputs;

// What a reload published: the generation number workers pick up, and what
// it loaded (for the log line).
struct PipelineReload {
  uint64_t generation = 0;
  std::string summary;
  // What the configuration alone does not tell, from the files it names:
  bool script_changed = false;  // the script's code differs (or a script came or went)
  bool policy_changed = false;  // RuleSet::fingerprint differs (rules, zones, domain_list files)
};
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

  // Adds this pipeline's stages to a worker; live, the worker also takes
  // reloads (Worker::set_stage_updates).
  StageFactory stage_factory();
  // Live: builds the stages' inputs from `cfg` (a configuration plan_reload()
  // made: restart-only keys as running) and publishes them. Throws
  // ConfigError ("file:line: what", a list or the script that does not load)
  // and then changes nothing. Control thread only.
  PipelineReload reload(std::shared_ptr<const Config> cfg);
  // The generation workers must reach to run the last reload.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Human-readable summary for `tripline check`.
  std::string describe() const;
  // Live: saves the DNS cache every save_interval seconds (and purges it)
  // until shutdown().
  void start_housekeeping();
  // Stops housekeeping; live: saves the DNS cache state.
  void shutdown();

  DnsCache* dns_cache() { return cache_.get(); }
  const HostTable* host_table() const { return hosts_.get(); }
  // Client names from [clients] leases (ClientNames::lookup); null when none are configured.
  const ClientNames* client_names() const { return names_.get(); }
  const RuleSet* rules() const;
  const NameRuleChain* dns_rules() const;
  CaptureWriter* capture_writer() { return capture_.get(); }
  // Offload (live, [offload] enabled and conntrack reachable); null otherwise.
  OffloadLink* offload_link() { return offload_link_.get(); }
  // Live: starts the conntrack threads (after the workers exist).
  void start_offload();
  SharedStore* shared_store() { return shared_.get(); }

 private:
  void save_state();
  void load_dns();
  void load_hosts();
  void load_client_names();
  std::string describe_clients() const;
  bool dns_on(const Config& c) const;
  // Lists, rule chains and script of one configuration (throws ConfigError).
  std::shared_ptr<const StageInputs> build_inputs(std::shared_ptr<const Config> cfg) const;
  std::shared_ptr<const StageInputs> current() const;
  // Builds a worker's stage chain from `in`, reusing what `old` held that
  // must outlive a reload (the DNS observer's outstanding queries).
  void install_stages(Worker& worker, std::shared_ptr<const StageInputs> in,
                      std::vector<std::unique_ptr<Stage>> old);

  std::shared_ptr<const Config> cfg_;
  Mode mode_;
  std::unique_ptr<DnsCache> cache_;
  std::unique_ptr<HostTable> hosts_;              // who clients are (with the DNS cache)
  std::unique_ptr<NeighbourMonitor> neighbours_;  // live, client_identity = "host"
  // What the stages are built from; replaced by reload() under inputs_mu_.
  mutable std::mutex inputs_mu_;
  std::shared_ptr<const StageInputs> inputs_;
  std::atomic<uint64_t> generation_{0};
  std::unique_ptr<ClientNames> names_;    // [clients] leases; null when none
  std::unique_ptr<LeaseMonitor> leases_;  // keeps names_ in step with the files
  // tripline.incr/get/set/del: one store for every worker's Lua state, here
  // so that it outlives them (and a script reload). Null without a script.
  std::unique_ptr<SharedStore> shared_;
  std::unique_ptr<CaptureWriter> capture_;
  // Offload and restart adoption (engine/conntrack).
  void load_conntrack();
  std::unique_ptr<OffloadLink> offload_link_;
  std::unique_ptr<ConntrackService> conntrack_;
  std::shared_ptr<const absl::flat_hash_set<CtTuple>> adopted_;
  std::string load_summary_;
  bool state_not_saved_ = false;  // the state file did not load: it is never overwritten
  std::thread housekeeping_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace tripline
