#include "egress_policy.h"

#include "dns_cache.h"

namespace tripline {

EgressPolicy::EgressPolicy(const Config& cfg, DnsCache* cache, StageEnv& env)
    : cfg_(cfg), cache_(cache), env_(env) {}

bool EgressPolicy::likes(const PacketContext& ctx) const {
  return ctx.new_flow && cfg_.egress.mode != EgressMode::Off;
}

bool EgressPolicy::is_resolver(const IpAddr& addr) const {
  for (const auto& r : cfg_.dns.resolvers)
    if (r.addr == addr) return true;
  return false;
}

Next EgressPolicy::inspect(PacketContext& ctx) {
  const Flow& flow = ctx.flow;
  const IpAddr& client = flow.src();
  const IpAddr& dest = flow.dst();
  const auto& inside = cfg_.network.inside;
  if (!inside.contains(client) || inside.contains(dest)) return Next::Continue;  // not outbound
  if (is_resolver(dest) || cfg_.egress.allow.contains(dest)) return Next::Continue;

  std::string_view reason = "unresolved";
  if (cache_) {
    DnsLookup found = cache_->lookup(client, dest, ctx.now);
    switch (found.status) {
      case DnsLookupStatus::Open: {
        env_.counters().egress_allowed.add();
        ctx.flow.data.set_dns_name(found.name.view());
        Decision d = ctx.decision;
        d.verdict = Verdict::Accept;
        d.reason = "dns";
        ctx.decide_flow(d);
        return Next::Continue;
      }
      case DnsLookupStatus::Expired:
        reason = "expired";
        break;
      case DnsLookupStatus::OtherClient:
        reason = "other-client";
        break;
      case DnsLookupStatus::Unknown:
        break;
    }
  }
  bool enforce = cfg_.egress.mode == EgressMode::Enforce;
  if (enforce) {
    env_.counters().egress_blocked.add();
    Decision d;
    d.verdict = cfg_.egress.action;
    d.reason = reason;
    if (d.verdict == Verdict::Reject) {
      d.mark = cfg_.egress.reject_mark;
      d.has_mark = true;
    }
    ctx.decide_flow(d);
  } else {
    env_.counters().egress_would_block.add();
  }
  if (env_.events_on()) emit_alert(ctx, reason, enforce);
  return enforce ? Next::Stop : Next::Continue;
}

void EgressPolicy::emit_alert(const PacketContext& ctx, std::string_view reason, bool blocked) {
  env_.emit(env_.eve().alert_event(
      {.now = ctx.now,
       .flow = ctx.flow,
       .blocked = blocked,
       .signature = "tripline egress: destination not resolved for this client",
       .category = "egress",
       .severity = 2,
       .reason = reason,
       .would_block = !blocked}));
}

}  // namespace tripline
