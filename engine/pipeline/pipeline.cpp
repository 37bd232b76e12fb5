#include "pipeline.h"

#include <fmt/format.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include "capture_recorder.h"
#include "capture_writer.h"
#include "dns_cache.h"
#include "dns_name_rules.h"
#include "dns_observer.h"
#include "dns_state_file.h"
#include "domain_set.h"
#include "host_table.h"
#include "name_rule_chain.h"
#include "neighbour_monitor.h"
#include "policy_stage.h"
#include "rule_chain.h"
#include "shared_store.h"
#include "worker.h"

namespace tripline {
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
  if (!cfg_->lua.script.empty()) {
    try {
      lua_ = load_lua_script(*cfg_);
    } catch (const LuaError& e) {
      throw ConfigError(fmt::format("{}: lua.script: {}", cfg_->source, e.what()));
    }
    if (mode_ != Mode::Check) shared_ = std::make_unique<SharedStore>(cfg_->lua.shared_entries);
  }
  if (!cfg_->capture.dir.empty() && mode_ != Mode::Check) {
    unsigned workers = mode_ == Mode::Live ? cfg_->queue.count : 1;
    try {
      capture_ = std::make_unique<CaptureWriter>(cfg_->capture, workers);
    } catch (const std::runtime_error& e) {
      throw ConfigError(fmt::format("{}: capture.dir: {}", cfg_->source, e.what()));
    }
  }
  load_dns();
  // Zone interfaces exist only live; replay packets carry none.
  InterfaceNames names = mode_ == Mode::Live    ? InterfaceNames::Resolve
                         : mode_ == Mode::Check ? InterfaceNames::Report
                                                : InterfaceNames::Ignore;
  rules_ = build_rule_set(*cfg_, names);
  if (rules_->empty()) rules_.reset();
}

void Pipeline::load_dns() {
  const DnsConfig& d = cfg_->dns;
  bool dns_on = !d.resolvers.empty() || cfg_->egress.mode != EgressMode::Off;
  if (!dns_on) return;
  cache_ = std::make_unique<DnsCache>(cache_config(d));
  load_hosts();
  if (!d.block_lists.empty()) block_ = load_domain_lists(d.block_lists, "blocklist");
  if (!d.allow_lists.empty()) allow_ = load_domain_lists(d.allow_lists, "allowlist");
  dns_rules_ = build_dns_name_rules(allow_, block_);
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
    if (cache_) {
      DnsServices services{cache_.get(), dns_rules_.get(), hosts_.get()};
      worker.add_stage(std::make_unique<DnsObserver>(*cfg_, services, worker.env()));
    }
    if (rules_)
      worker.add_stage(
          std::make_unique<PolicyStage>(*cfg_, *rules_, cache_.get(), worker.env(), hosts_.get()));
    if (lua_)
      worker.add_stage(std::make_unique<LuaTriggers>(*cfg_, *lua_, worker.env(), shared_.get()));
    if (capture_)
      worker.set_capture(std::make_unique<CaptureRecorder>(*capture_, worker.index(), cfg_->capture,
                                                           capture_counters(worker.counters())));
  };
}

std::string Pipeline::describe() const {
  const Config& c = *cfg_;
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
      rules_ ? rules_->to_string() : "  (none: no [[rule]], [egress] mode = off)\n");
  out += fmt::format(
      "dns rules     trusted answers; the first matching name rule decides; counters "
      "rule.<name>\n{}",
      dns_rules_ ? dns_rules_->to_string(block_mode_name(c.dns.block_mode))
      : cache_   ? "  (none: no [dns] block_lists/allow_lists)\n"
                 : "  (none: no answers are watched: no [dns] resolvers, [egress] mode = off)\n");
  if (cache_) out += describe_clients();
  if (block_) out += fmt::format("block lists   {} names\n", block_->size());
  if (allow_) out += fmt::format("allow lists   {} names\n", allow_->size());
  if (lua_)
    out += fmt::format(
        "triggers      {} (budget {} instructions, {} MB per worker, {} shared entries)\n",
        lua_->path, c.lua.budget, c.lua.memory_mb, c.lua.shared_entries);
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
  save_state();
  if (capture_) capture_->flush();
}

}  // namespace tripline
