#include "egress_policy.h"

#include "dns_cache.h"
#include "worker.h"

namespace tripline {

EgressPolicy::EgressPolicy(const Config& cfg, DnsCache* cache, Worker& worker)
    : cfg_(cfg), cache_(cache), worker_(worker) {}

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
        worker_.counters().egress_allowed.add();
        auto& slot = names_[flow.id];
        slot = std::make_unique<std::string>(found.name.view());
        ctx.flow.annotation = slot.get();
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
    worker_.counters().egress_blocked.add();
    Decision d;
    d.verdict = cfg_.egress.action;
    d.reason = reason;
    if (d.verdict == Verdict::Reject) {
      d.mark = cfg_.egress.reject_mark;
      d.has_mark = true;
    }
    ctx.decide_flow(d);
  } else {
    worker_.counters().egress_would_block.add();
  }
  if (worker_.has_events()) emit_alert(ctx, reason, enforce);
  return enforce ? Next::Stop : Next::Continue;
}

void EgressPolicy::emit_alert(const PacketContext& ctx, std::string_view reason, bool blocked) {
  auto& w = worker_.eve().begin(ctx.now, "alert", ctx.flow);
  w.Key("alert");
  w.StartObject();
  w.Key("action");
  w.String(blocked ? "blocked" : "allowed");
  w.Key("signature");
  w.String("tripline egress: destination not resolved for this client");
  w.Key("category");
  w.String("egress");
  w.Key("severity");
  w.Uint(2);
  w.Key("reason");
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  if (!blocked) {
    w.Key("would_block");
    w.Bool(true);
  }
  w.EndObject();
  worker_.emit(worker_.eve().finish());
}

void EgressPolicy::on_flow_end(const Flow& flow, FlowEndReason, Timestamp) {
  names_.erase(flow.id);
}

}  // namespace tripline
