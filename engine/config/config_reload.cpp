#include "config_reload.h"

#include <string_view>

namespace tripline {
namespace {

bool same(const CidrSet& a, const CidrSet& b) {
  const auto& x = a.prefixes();
  const auto& y = b.prefixes();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i].addr == y[i].addr) || x[i].length != y[i].length) return false;
  return true;
}

template <typename T>
bool same(const T& a, const T& b) {
  return a == b;
}

// Rules and zones without their origins ("file:line"): the same rules further
// down the file are no change. A field added to rule_config.h belongs here.
bool same(const MatchNode& a, const MatchNode& b) {
  if (a.kind != b.kind || !same(a.cidrs, b.cidrs) || a.ports != b.ports || a.protos != b.protos ||
      a.directions != b.directions || a.zones != b.zones || a.names != b.names ||
      a.resolved != b.resolved || a.children.size() != b.children.size())
    return false;
  for (size_t i = 0; i < a.children.size(); ++i)
    if (!same(a.children[i], b.children[i])) return false;
  return true;
}

bool same(const RuleConfig& a, const RuleConfig& b) {
  return a.name == b.name && same(a.match, b.match) && a.verb == b.verb && a.alert == b.alert &&
         a.capture == b.capture && a.monitor == b.monitor && a.severity == b.severity &&
         a.capture_scope == b.capture_scope && a.capture_duration == b.capture_duration &&
         a.capture_packets == b.capture_packets && a.capture_bytes == b.capture_bytes;
}

bool same(const ZoneConfig& a, const ZoneConfig& b) {
  return a.name == b.name && same(a.cidrs, b.cidrs) && a.interfaces == b.interfaces;
}

// In order: the rules run in file order.
template <typename T>
bool same_each(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}
bool same(const std::vector<RuleConfig>& a, const std::vector<RuleConfig>& b) {
  return same_each(a, b);
}
bool same(const std::vector<ZoneConfig>& a, const std::vector<ZoneConfig>& b) {
  return same_each(a, b);
}

// A restart-only key: the running value stays; a difference is reported.
class Keeper {
 public:
  explicit Keeper(std::vector<std::string>& out) : out_(out) {}
  template <typename T>
  void keep(std::string_view key, T& effective, const T& running) {
    if (!same(effective, running)) out_.emplace_back(key);
    effective = running;
  }

 private:
  std::vector<std::string>& out_;
};

// A reloadable key: the new value applies; a difference is reported.
template <typename T>
void note(std::vector<std::string>& out, std::string_view key, const T& running, const T& loaded) {
  if (!same(running, loaded)) out.emplace_back(key);
}

}  // namespace

ReloadPlan plan_reload(const Config& running, const Config& loaded) {
  ReloadPlan plan{loaded, {}, {}};
  Config& e = plan.effective;
  Keeper k(plan.restart_keys);
  k.keep("queue.first", e.queue.first, running.queue.first);
  k.keep("queue.count", e.queue.count, running.queue.count);
  k.keep("queue.fail_open", e.queue.fail_open, running.queue.fail_open);
  k.keep("queue.copy_range", e.queue.copy_range, running.queue.copy_range);
  k.keep("queue.gso", e.queue.gso, running.queue.gso);
  k.keep("queue.max_len", e.queue.max_len, running.queue.max_len);
  k.keep("queue.rcvbuf", e.queue.rcvbuf, running.queue.rcvbuf);
  k.keep("queue.batch", e.queue.batch, running.queue.batch);
  k.keep("queue.default_verdict", e.queue.default_verdict, running.queue.default_verdict);
  k.keep("queue.rule_counter", e.queue.rule_counter, running.queue.rule_counter);
  k.keep("network.inside", e.network.inside, running.network.inside);
  k.keep("flows.tcp_new", e.flows.tcp_new, running.flows.tcp_new);
  k.keep("flows.tcp_established", e.flows.tcp_established, running.flows.tcp_established);
  k.keep("flows.tcp_closing", e.flows.tcp_closing, running.flows.tcp_closing);
  k.keep("flows.tcp_closed", e.flows.tcp_closed, running.flows.tcp_closed);
  k.keep("flows.udp", e.flows.udp, running.flows.udp);
  k.keep("flows.icmp", e.flows.icmp, running.flows.icmp);
  k.keep("flows.other", e.flows.other, running.flows.other);
  k.keep("flows.capacity", e.flows.capacity, running.flows.capacity);
  k.keep("flows.fragments", e.flows.fragments, running.flows.fragments);
  k.keep("log.queue_events", e.log.queue_events, running.log.queue_events);
  k.keep("log.queue_mb", e.log.queue_mb, running.log.queue_mb);
  k.keep("log.stats_interval", e.log.stats_interval, running.log.stats_interval);
  // The event log path reloads (reopened), but turning it on or off, or to
  // or from stdout, needs a restart.
  auto kind = [](const std::string& p) { return p.empty() ? 0 : p == "-" ? 1 : 2; };
  if (kind(e.log.events) != kind(running.log.events) || kind(running.log.events) != 2) {
    k.keep("log.events", e.log.events, running.log.events);
    e.log.events_default = running.log.events_default;
  } else {
    note(plan.changed, "log.events", running.log.events, e.log.events);
  }
  k.keep("dns.resolvers", e.dns.resolvers, running.dns.resolvers);
  k.keep("dns.scope", e.dns.scope, running.dns.scope);
  k.keep("dns.client_identity", e.dns.client_identity, running.dns.client_identity);
  k.keep("dns.max_entries", e.dns.max_entries, running.dns.max_entries);
  k.keep("dns.max_addrs_per_name", e.dns.max_addrs_per_name, running.dns.max_addrs_per_name);
  k.keep("dns.max_outstanding", e.dns.max_outstanding, running.dns.max_outstanding);
  k.keep("dns.query_timeout", e.dns.query_timeout, running.dns.query_timeout);
  k.keep("dns.state_file", e.dns.state_file, running.dns.state_file);
  k.keep("dns.save_interval", e.dns.save_interval, running.dns.save_interval);
  k.keep("egress.reject_mark", e.egress.reject_mark, running.egress.reject_mark);
  k.keep("capture.dir", e.capture.dir, running.capture.dir);
  k.keep("capture.ring_bytes", e.capture.ring_bytes, running.capture.ring_bytes);
  k.keep("capture.snaplen", e.capture.snaplen, running.capture.snaplen);
  k.keep("capture.pre_packets", e.capture.pre_packets, running.capture.pre_packets);
  k.keep("capture.format", e.capture.format, running.capture.format);
  k.keep("log.dns_version", e.log.dns_version, running.log.dns_version);
  k.keep("lua.shared_entries", e.lua.shared_entries, running.lua.shared_entries);
  k.keep("metrics.listen", e.metrics.listen, running.metrics.listen);
  k.keep("clients.leases", e.clients.leases, running.clients.leases);
  k.keep("clients.reload_check_ms", e.clients.reload_check_ms, running.clients.reload_check_ms);
  k.keep("offload.enabled", e.offload.enabled, running.offload.enabled);
  k.keep("offload.after_packets", e.offload.after_packets, running.offload.after_packets);
  k.keep("offload.mark", e.offload.mark, running.offload.mark);
  k.keep("offload.drop_mark", e.offload.drop_mark, running.offload.drop_mark);
  k.keep("offload.mask", e.offload.mask, running.offload.mask);
  k.keep("offload.adopt", e.offload.adopt, running.offload.adopt);
  k.keep("offload.timeout", e.flows.offloaded, running.flows.offloaded);

  auto& c = plan.changed;
  note(c, "dns.min_ttl", running.dns.min_ttl, e.dns.min_ttl);
  note(c, "dns.max_ttl", running.dns.max_ttl, e.dns.max_ttl);
  note(c, "dns.grace", running.dns.grace, e.dns.grace);
  note(c, "dns.block_lists", running.dns.block_lists, e.dns.block_lists);
  note(c, "dns.allow_lists", running.dns.allow_lists, e.dns.allow_lists);
  note(c, "dns.block_mode", running.dns.block_mode, e.dns.block_mode);
  note(c, "egress.mode", running.egress.mode, e.egress.mode);
  note(c, "egress.action", running.egress.action, e.egress.action);
  note(c, "egress.allow", running.egress.allow, e.egress.allow);
  note(c, "rules", running.rules, e.rules);  // [[rule]]
  note(c, "zones", running.zones, e.zones);
  note(c, "lua.script", running.lua.script, e.lua.script);
  note(c, "lua.budget", running.lua.budget, e.lua.budget);
  note(c, "lua.max_call_ms", running.lua.max_call_ms, e.lua.max_call_ms);
  note(c, "lua.memory_mb", running.lua.memory_mb, e.lua.memory_mb);
  note(c, "lua.max_consecutive_errors", running.lua.max_consecutive_errors,
       e.lua.max_consecutive_errors);
  note(c, "capture.max_files", running.capture.max_files, e.capture.max_files);
  note(c, "capture.max_sessions", running.capture.max_sessions, e.capture.max_sessions);
  note(c, "capture.default_duration", running.capture.default_duration, e.capture.default_duration);
  note(c, "capture.default_max_packets", running.capture.default_max_packets,
       e.capture.default_max_packets);
  note(c, "capture.default_max_bytes", running.capture.default_max_bytes,
       e.capture.default_max_bytes);
  return plan;
}

}  // namespace tripline
