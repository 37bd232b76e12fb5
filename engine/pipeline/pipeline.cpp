#include "pipeline.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include "adopt_stage.h"
#include "capture_recorder.h"
#include "capture_writer.h"
#include "client_names.h"
#include "conntrack_service.h"
#include "dns_cache.h"
#include "dns_name_rules.h"
#include "dns_observer.h"
#include "dns_state_file.h"
#include "domain_set.h"
#include "host_table.h"
#include "lease_monitor.h"
#include "name_rule_chain.h"
#include "neighbour_monitor.h"
#include "offload_link.h"
#include "policy_stage.h"
#include "rule_chain.h"
#include "shared_store.h"
#include "worker.h"

namespace tripline {

// One configuration's lists, rule chains and trigger script: immutable once
// built. Workers keep the one their stages were built from alive.
struct StageInputs {
  std::shared_ptr<const Config> cfg;
  std::shared_ptr<const DomainSet> block;
  std::shared_ptr<const DomainSet> allow;
  std::unique_ptr<NameRuleChain> dns_rules;  // chain dns (answer names); null when none
  std::unique_ptr<RuleSet> rules;  // [[rule]] and the egress chain; null when there are none
  std::optional<LuaScript> lua;
  // What judging open flows again depends on (RuleSet::fingerprint; "" with
  // no rules): a reload that changes it judges the open flows again.
  std::string policy;
};

namespace {

// How long an expired entry is kept so a blocked flow can say "expired"
// rather than "unresolved".
constexpr uint32_t kKeepExpiredSeconds = 3600;

DnsCacheConfig cache_config(const DnsConfig& d) {
  DnsCacheConfig c;
  c.scope_client = d.scope == DnsScope::Client;
  c.min_ttl = d.min_ttl;
  c.max_ttl = d.max_ttl;
  c.grace = d.grace;
  c.max_entries = d.max_entries;
  c.max_addrs_per_name = d.max_addrs_per_name;
  c.keep_expired = kKeepExpiredSeconds;
  return c;
}

const char* mode_name(EgressMode m) {
  switch (m) {
    case EgressMode::Off:
      return "off";
    case EgressMode::Monitor:
      return "monitor";
    case EgressMode::Enforce:
      return "enforce";
  }
  return "?";
}

}  // namespace

Pipeline::Pipeline(std::shared_ptr<const Config> cfg, Mode mode)
    : cfg_(std::move(cfg)), mode_(mode) {
  inputs_ = build_inputs(cfg_);
  // One store for every worker's Lua state, here so that it outlives them and a
  // script reload (also one that adds a script).
  if (mode_ != Mode::Check) shared_ = std::make_unique<SharedStore>(cfg_->lua.shared_entries);
  load_dns();
  load_client_names();
  if (mode_ == Mode::Live) load_conntrack();
  if (!cfg_->capture.dir.empty() && mode_ != Mode::Check) {
    unsigned workers = mode_ == Mode::Live ? cfg_->queue.count : 1;
    CaptureWriterOptions opts;
    // Recordings name each worker's queue, and the names the DNS cache holds
    // for their addresses (any client's: the global entries).
    for (unsigned w = 0; w < workers; ++w)
      opts.interfaces.push_back(mode_ == Mode::Live
                                    ? fmt::format("nfqueue{}", cfg_->queue.first + w)
                                    : std::string("replay"));
    if (cache_) {
      const DnsCache* cache = cache_.get();
      opts.names = [cache](const IpAddr& a) { return cache->names(ClientId{}, a); };
    }
    try {
      capture_ = std::make_unique<CaptureWriter>(cfg_->capture, workers, std::move(opts));
    } catch (const std::runtime_error& e) {
      throw ConfigError(fmt::format("{}: capture.dir: {}", cfg_->source, e.what()));
    }
  }
}

bool Pipeline::dns_on(const Config& c) const {
  return !c.dns.resolvers.empty() || c.egress.mode != EgressMode::Off;
}

std::shared_ptr<const StageInputs> Pipeline::build_inputs(std::shared_ptr<const Config> cfg) const {
  auto in = std::make_shared<StageInputs>();
  in->cfg = cfg;
  const Config& c = *cfg;
  if (!c.lua.script.empty()) {
    try {
      in->lua = load_lua_script(c);
    } catch (const LuaError& e) {
      throw ConfigError(fmt::format("{}: lua.script: {}", c.source, e.what()));
    }
  }
  if (dns_on(c)) {
    if (!c.dns.block_lists.empty()) in->block = load_domain_lists(c.dns.block_lists, "blocklist");
    if (!c.dns.allow_lists.empty()) in->allow = load_domain_lists(c.dns.allow_lists, "allowlist");
    in->dns_rules = build_dns_name_rules(in->allow, in->block);
  }
  // Zone interfaces exist only live; replay packets carry none.
  InterfaceNames names = mode_ == Mode::Live    ? InterfaceNames::Resolve
                         : mode_ == Mode::Check ? InterfaceNames::Report
                                                : InterfaceNames::Ignore;
  in->rules = build_rule_set(c, names);
  if (in->rules->empty()) in->rules.reset();
  if (in->rules) in->policy = in->rules->fingerprint();
  return in;
}

std::shared_ptr<const StageInputs> Pipeline::current() const {
  std::lock_guard lock(inputs_mu_);
  return inputs_;
}

const RuleSet* Pipeline::rules() const { return current()->rules.get(); }
const NameRuleChain* Pipeline::dns_rules() const { return current()->dns_rules.get(); }

PipelineReload Pipeline::reload(std::shared_ptr<const Config> cfg) {
  if (!cache_ && dns_on(*cfg))
    throw ConfigError(fmt::format(
        "{}: [egress] mode: the DNS-gated egress policy was off with no [dns] resolvers at "
        "start; turning it on needs a restart",
        cfg->source));
  std::shared_ptr<const StageInputs> in = build_inputs(cfg);  // throws: nothing changed
  if (cache_) cache_->set_ttl_bounds(cfg->dns.min_ttl, cfg->dns.max_ttl, cfg->dns.grace);
  if (capture_) capture_->set_max_files(cfg->capture.max_files);
  std::shared_ptr<const StageInputs> was = current();
  const char* script_state = !in->lua                                       ? ""
                             : !was->lua || was->lua->code != in->lua->code ? " (new script)"
                                                                            : " (unchanged)";
  PipelineReload r;
  r.script_changed =
      in->lua.has_value() != was->lua.has_value() || (in->lua && was->lua->code != in->lua->code);
  r.policy_changed = in->policy != was->policy;
  r.summary =
      fmt::format("egress {}{}, {} rules, {} block-list names, {} allow-list names, triggers {}{}",
                  mode_name(cfg->egress.mode),
                  cfg->egress.mode == EgressMode::Off
                      ? ""
                      : fmt::format(" (action {})", to_string(cfg->egress.action)),
                  in->rules ? in->rules->rule_count() : 0, in->block ? in->block->size() : 0,
                  in->allow ? in->allow->size() : 0,
                  in->lua ? in->lua->path : std::string("(none)"), script_state);
  {
    std::lock_guard lock(inputs_mu_);
    inputs_ = std::move(in);
    r.generation = generation_.load(std::memory_order_relaxed) + 1;
    generation_.store(r.generation, std::memory_order_release);
  }
  return r;
}

void Pipeline::load_client_names() {
  const ClientsConfig& c = cfg_->clients;
  if (c.leases.empty()) return;
  names_ = std::make_unique<ClientNames>();
  leases_ = std::make_unique<LeaseMonitor>(*names_, c.leases,
                                           [](const std::string& w) { spdlog::warn("{}", w); });
  leases_->poll();  // the names are there before the first packet
  spdlog::info("client names: {} named addresses from {} DHCP lease file(s)", names_->size(),
               c.leases.size());
  if (mode_ == Mode::Live) leases_->start(std::chrono::milliseconds(c.reload_check_ms));
}

void Pipeline::load_conntrack() {
  const OffloadConfig& o = cfg_->offload;
  // Adoption: connections conntrack tracked as established before this start.
  if (o.adopt) {
    try {
      std::vector<CtTuple> established = dump_established();
      adopted_ = make_adopted_set(established);
      spdlog::info("adopting {} established connections from the conntrack table",
                   adopted_->size());
    } catch (const ConntrackError& e) {
      spdlog::warn(
          "conntrack table not readable ({}): established connections are not "
          "adopted at start ([offload] adopt)",
          e.what());
    }
  }
  if (!o.enabled) return;
  offload_link_ = std::make_unique<OffloadLink>(cfg_->queue.count);
  try {
    ConntrackMarks marks{o.mark, o.drop_mark, o.mask};
    conntrack_ = std::make_unique<ConntrackService>(*offload_link_, marks);
  } catch (const ConntrackError& e) {
    spdlog::warn("offload is off: conntrack is not reachable ({}); every packet stays queued",
                 e.what());
    offload_link_.reset();
  }
}

void Pipeline::start_offload() {
  if (!conntrack_) return;
  conntrack_->start();
  spdlog::info(
      "offload on: decided flows go to the kernel after {} packets each way "
      "(conntrack mark 0x{:x}, drops 0x{:x}, mask 0x{:x})",
      cfg_->offload.after_packets, cfg_->offload.mark, cfg_->offload.drop_mark, cfg_->offload.mask);
  if (!conntrack_->events_filtered_in_kernel())
    spdlog::warn(
        "conntrack destroy events are not filtered by the kernel (socket filter refused): "
        "every connection's end is read and skipped here, which costs CPU under many short "
        "connections");
}

void Pipeline::load_dns() {
  const DnsConfig& d = cfg_->dns;
  if (!dns_on(*cfg_)) return;
  cache_ = std::make_unique<DnsCache>(cache_config(d));
  load_hosts();
  if (mode_ == Mode::Live && !d.state_file.empty()) {
    DnsCacheLoadResult r = cache_->load(d.state_file, wall_clock_now());
    if (r.missing) {
      load_summary_ = fmt::format("no DNS cache state yet at {}", d.state_file);
    } else if (!r.ok) {
      // Not ours (or unreadable): keep it as it is, and save nothing this run.
      state_not_saved_ = check_dns_state_file(d.state_file).kind == DnsStateFileKind::NotOurs;
      spdlog::warn("DNS cache state {} not loaded: {}{}", d.state_file, r.error,
                   state_not_saved_ ? "; it is left as it is and the DNS cache is not saved this "
                                      "run (move the file away or set another [dns] state_file)"
                                    : "");
    } else {
      load_summary_ = fmt::format("restored {} DNS cache entries from {} ({} expired, {} corrupt)",
                                  r.loaded, d.state_file, r.expired, r.corrupt);
      for (const auto& w : r.warnings) spdlog::warn("{}", w);
    }
    if (!load_summary_.empty()) spdlog::info("{}", load_summary_);
  }
}

void Pipeline::load_hosts() {
  const DnsConfig& d = cfg_->dns;
  HostTableConfig h;
  h.by_host = d.scope == DnsScope::Client && d.client_identity == ClientIdentity::Host;
  h.all_on_link = mode_ == Mode::Replay;  // a pcap's Ethernet sources are its hosts
  hosts_ = std::make_unique<HostTable>(h);
  if (!h.by_host) return;
  if (mode_ == Mode::Check) {
    std::vector<OnLinkPrefix> p = read_on_link_prefixes();
    hosts_->set_prefixes(p);
  } else if (mode_ == Mode::Live) {
    try {
      neighbours_ = std::make_unique<NeighbourMonitor>(*hosts_);
      neighbours_->start();
      HostTableStats st = hosts_->stats();
      spdlog::info("clients are hosts: {} neighbour entries, {} on-link prefixes", st.entries,
                   st.prefixes);
    } catch (const NeighbourError& e) {
      // Clients are then hosts only by the link-layer source of their packets.
      spdlog::warn("{}; clients are told apart by their packets' link-layer source only", e.what());
    }
  }
}

Pipeline::~Pipeline() { shutdown(); }

StageFactory Pipeline::stage_factory() {
  return [this](Worker& worker) {
    worker.env().eve().set_dns_version(cfg_->log.dns_version);
    install_stages(worker, current(), {});
    if (offload_link_) worker.set_offload(offload_link_.get());
    if (capture_)
      worker.set_capture(std::make_unique<CaptureRecorder>(*capture_, worker.index(), cfg_->capture,
                                                           capture_counters(worker.counters())));
    if (mode_ == Mode::Live) {
      worker.set_stage_updates(&generation_, [this](Worker& w) {
        std::shared_ptr<const StageInputs> in = current();
        if (CaptureRecorder* rec = w.env().capture()) rec->set_limits(in->cfg->capture);
        install_stages(w, std::move(in), w.take_stages());
      });
    }
  };
}

namespace {

// What a worker's stages refer to (Worker::stage_inputs): the inputs they
// were built from, and the configuration its Lua stage was built with (older
// when that stage was kept across a reload).
struct WorkerInputs {
  std::shared_ptr<const StageInputs> in;
  std::shared_ptr<const Config> lua_cfg;
};

bool same_lua(const Config& a, const Config& b) {
  return a.lua.budget == b.lua.budget && a.lua.max_call_ms == b.lua.max_call_ms &&
         a.lua.memory_mb == b.lua.memory_mb &&
         a.lua.max_consecutive_errors == b.lua.max_consecutive_errors;
}

}  // namespace

void Pipeline::install_stages(Worker& worker, std::shared_ptr<const StageInputs> in,
                              std::vector<std::unique_ptr<Stage>> old) {
  const Config& cfg = *in->cfg;
  auto prev = std::static_pointer_cast<const WorkerInputs>(worker.stage_inputs());
  DnsObserver* old_dns = nullptr;
  std::unique_ptr<Stage> old_lua;
  for (auto& stage : old) {
    if (auto* d = dynamic_cast<DnsObserver*>(stage.get())) old_dns = d;
    if (dynamic_cast<LuaTriggers*>(stage.get())) old_lua = std::move(stage);
  }
  auto keep = std::make_shared<WorkerInputs>(WorkerInputs{in, in->cfg});
  std::vector<std::unique_ptr<Stage>> next;
  if (cache_) {
    DnsServices services{cache_.get(), in->dns_rules.get(), hosts_.get()};
    auto dns = std::make_unique<DnsObserver>(cfg, services, worker.env());
    if (old_dns) dns->adopt_state(*old_dns);
    next.push_back(std::move(dns));
  }
  if (adopted_ && !adopted_->empty())
    next.push_back(std::make_unique<AdoptStage>(adopted_, worker.env()));
  if (in->rules)
    next.push_back(std::make_unique<PolicyStage>(cfg, *in->rules, cache_.get(), worker.env(),
                                                 hosts_.get(), names_.get()));
  bool script_changed = false;  // a reload brought in a new script, or took it away
  if (in->lua) {
    const StageInputs* was = prev ? prev->in.get() : nullptr;
    if (old_lua && was && was->lua && was->lua->path == in->lua->path &&
        was->lua->code == in->lua->code && same_lua(*prev->lua_cfg, cfg)) {
      // The same script with the same limits: its state (globals) stays.
      next.push_back(std::move(old_lua));
      keep->lua_cfg = prev->lua_cfg;
    } else if (!old_lua) {
      auto lua = std::make_unique<LuaTriggers>(cfg, *in->lua, worker.env(), shared_.get());
      if (prev) {  // a script the reload added
        lua->judge_open_flows();
        script_changed = true;
      }
      next.push_back(std::move(lua));
    } else {
      // A new script: checked when the reload was read; a worker that still
      // cannot load it (memory) keeps running the old one.
      try {
        auto lua = std::make_unique<LuaTriggers>(cfg, *in->lua, worker.env(), shared_.get());
        lua->judge_open_flows();
        script_changed = true;
        next.push_back(std::move(lua));
      } catch (const LuaError& e) {
        spdlog::error(
            "worker {}: lua: the reloaded script does not load here ({}); the running "
            "one stays",
            worker.index(), e.what());
        next.push_back(std::move(old_lua));
        keep->lua_cfg = prev->lua_cfg;
      }
    }
  }
  // The old script's stage goes (a changed script, or none): what it watched
  // means nothing to the new one.
  if (old_lua) {
    worker.forget_lua_watches();
    script_changed = true;
  }
  // A reload that changed how open flows are judged (the rules, the lists
  // they read, the script) judges them again, taking offloaded ones back.
  const bool policy_changed = prev && prev->in->policy != in->policy;
  worker.set_stages(std::move(next), std::move(keep));
  if (policy_changed || script_changed) worker.rejudge_flows(script_changed);
}

std::string Pipeline::describe() const {
  std::shared_ptr<const StageInputs> in = current();
  const Config& c = *in->cfg;
  std::string inside;
  for (const auto& p : c.network.inside.prefixes())
    inside += (inside.empty() ? "" : ", ") + p.to_string();
  std::string resolvers;
  for (const auto& r : c.dns.resolvers)
    resolvers += (resolvers.empty() ? "" : ", ") +
                 (r.addr.is_v6() ? "[" + r.addr.to_string() + "]" : r.addr.to_string()) + ":" +
                 std::to_string(r.port);
  std::string out = fmt::format(
      "queues        {}..{} (fail_open {}, copy_range {}, default_verdict {})\n"
      "inside        {}\n"
      "flows         capacity {} per worker\n"
      "events        {}\n"
      "resolvers     {}\n"
      "egress        {}{}\n",
      c.queue.first, c.queue.first + c.queue.count - 1, c.queue.fail_open, c.queue.copy_range,
      to_string(c.queue.default_verdict), inside, c.flows.capacity,
      c.log.events.empty()   ? "(none)"
      : c.log.events_default ? c.log.events + " (default; replay writes none without --events)"
                             : c.log.events,
      resolvers.empty() ? "(none)" : resolvers, mode_name(c.egress.mode),
      c.egress.mode == EgressMode::Off ? ""
                                       : fmt::format(" (action {})", to_string(c.egress.action)));
  out += fmt::format(
      "rule chains   new flows; the first accept/drop/reject/return decides; counters "
      "rule.<name>\n{}",
      in->rules ? in->rules->to_string() : "  (none: no [[rule]], [egress] mode = off)\n");
  out += fmt::format(
      "dns rules     trusted answers; the first matching name rule decides; counters "
      "rule.<name>\n{}",
      in->dns_rules ? in->dns_rules->to_string(block_mode_name(c.dns.block_mode))
      : cache_      ? "  (none: no [dns] block_lists/allow_lists)\n"
               : "  (none: no answers are watched: no [dns] resolvers, [egress] mode = off)\n");
  if (cache_) out += describe_clients();
  if (names_)
    out +=
        fmt::format("client names  {} named addresses from DHCP leases ({}), re-read on change\n",
                    names_->size(), fmt::join(cfg_->clients.leases, ", "));
  if (in->block) out += fmt::format("block lists   {} names\n", in->block->size());
  if (in->allow) out += fmt::format("allow lists   {} names\n", in->allow->size());
  if (in->lua)
    out += fmt::format(
        "triggers      {} (budget {} instructions, {} MB per worker, {} shared entries)\n",
        in->lua->path, c.lua.budget, c.lua.memory_mb, c.lua.shared_entries);
  if (!c.capture.dir.empty())
    out += fmt::format(
        "capture       {} (max {} files, {} sessions per worker, {} packets before)\n",
        c.capture.dir, c.capture.max_files, c.capture.max_sessions, c.capture.pre_packets);
  return out;
}

std::string Pipeline::describe_clients() const {
  const DnsConfig& d = cfg_->dns;
  if (d.scope == DnsScope::Global) return "clients       (none: [dns] scope = \"global\")\n";
  if (!hosts_ || !hosts_->config().by_host)
    return "clients       by address ([dns] client_identity = \"address\")\n";
  if (mode_ == Mode::Replay)
    return "clients       by host: each Ethernet source address (replay)\n";
  std::string on_link;
  for (const OnLinkPrefix& p : hosts_->prefixes()) {
    IpAddr net = p.net;
    for (size_t bit = p.length; bit < net.size() * 8; ++bit)
      net.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    char name[IF_NAMESIZE] = {};
    std::string dev = p.ifindex && if_indextoname(p.ifindex, name) ? name : "?";
    on_link += fmt::format("\n              {}/{} ({})", net.to_string(), p.length, dev);
  }
  return fmt::format(
      "clients       by host (link-layer address; the neighbour table joins its IPv4 and IPv6\n"
      "              addresses) for sources on the gateway's own networks:{}\n"
      "              any other source (behind another router) is a client by its address\n",
      on_link.empty() ? " (none found now)" : on_link);
}

void Pipeline::start_housekeeping() {
  if (!cache_ || mode_ != Mode::Live) return;
  housekeeping_ = std::thread([this] {
    std::unique_lock lock(mu_);
    auto interval = std::chrono::seconds(std::max<uint32_t>(1, cfg_->dns.save_interval));
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      cache_->purge(wall_clock_now());
      save_state();
      lock.lock();
    }
  });
}

void Pipeline::save_state() {
  if (!cache_ || mode_ != Mode::Live || cfg_->dns.state_file.empty() || state_not_saved_) return;
  DnsCacheSaveResult r = cache_->save(cfg_->dns.state_file, wall_clock_now());
  if (!r.ok) spdlog::warn("DNS cache state not saved: {}", r.error);
}

void Pipeline::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (housekeeping_.joinable()) housekeeping_.join();
  if (conntrack_) conntrack_->stop();
  save_state();
  if (capture_) capture_->flush();
}

}  // namespace tripline
