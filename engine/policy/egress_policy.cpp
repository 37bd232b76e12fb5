#include "egress_policy.h"

#include "capture_recorder.h"
#include "dns_cache.h"
#include "worker.h"

namespace tripline {

EgressPolicy::EgressPolicy(const Config& cfg, const RuleSet& rules, const DnsCache* cache,
                           Worker& worker)
    : cfg_(cfg), rules_(rules), worker_(worker), facts_(cfg.network.inside, cache) {
  eval_.matched.reserve(rules.rule_count());
  rule_counters_.resize(rules.rule_count());
  for (const RuleChain& chain : rules.chains())
    for (const Rule& rule : chain.rules)
      rule_counters_[rule.index] = &worker.counters().named.add("rule." + rule.name);
}

bool EgressPolicy::likes(const PacketContext& ctx) const { return ctx.new_flow; }

std::string_view EgressPolicy::reason_of(const Rule& rule) {
  if (!rule.action.reason_from_dns) return rule.action.reason;
  switch (facts_.dns().status) {
    case DnsLookupStatus::Expired:
      return "expired";
    case DnsLookupStatus::OtherClient:
      return "other-client";
    case DnsLookupStatus::Open:
      return "resolved";
    case DnsLookupStatus::Unknown:
      break;
  }
  return "unresolved";
}

void EgressPolicy::start_capture(const PacketContext& ctx, const Rule& rule) {
  CaptureRecorder* rec = worker_.capture();
  if (!rec) return;  // [capture] dir not set
  const RuleAction& a = rule.action;
  CaptureRequest req;
  req.scope = a.capture_scope == RuleCaptureScope::Flow   ? CaptureScope::Flow
              : a.capture_scope == RuleCaptureScope::Host ? CaptureScope::Host
                                                          : CaptureScope::All;
  req.duration = a.capture_duration;
  req.max_packets = a.capture_packets;
  req.max_bytes = a.capture_bytes;
  req.label = rule.name;
  rec->start(req, ctx.pkt, ctx.flow, ctx.now);
}

Next EgressPolicy::inspect(PacketContext& ctx) {
  facts_.reset(ctx.flow, ctx.meta, ctx.now);
  rules_.evaluate(facts_, eval_);
  if (eval_.matched.empty()) return Next::Continue;

  for (const Rule* rule : eval_.matched) {
    rule_counters_[rule->index]->add();
    if (rule->action.counter) (worker_.counters().*(rule->action.counter)).add();
    if (rule->action.capture) start_capture(ctx, *rule);
  }

  bool blocked = false;
  if (const Rule* rule = eval_.decided_by) {
    Decision d;
    switch (rule->action.verb) {
      case RuleVerb::Accept:
        d.verdict = Verdict::Accept;
        d.reason = reason_of(*rule);
        ctx.decide_flow(d);
        break;
      case RuleVerb::Drop:
      case RuleVerb::Reject:
        d.verdict = rule->action.verb == RuleVerb::Drop ? Verdict::Drop : Verdict::Reject;
        d.reason = reason_of(*rule);
        if (d.verdict == Verdict::Reject) {  // carried out by the contrib rules' mark rule
          d.mark = cfg_.egress.reject_mark;
          d.has_mark = true;
        }
        ctx.decide_flow(d);
        blocked = true;
        break;
      case RuleVerb::Return:  // no decision: the flow keeps the default
      case RuleVerb::Continue:
        break;
    }
  }

  // The name the flow was reached by, for its flow event (and triggers).
  if (facts_.looked_up() && facts_.dns().status == DnsLookupStatus::Open) {
    auto& slot = names_[ctx.flow.id];
    slot = std::make_unique<std::string>(facts_.dns().name.view());
    ctx.flow.annotation = slot.get();
  }

  if (worker_.has_events()) {
    for (const Rule* rule : eval_.matched)
      if (rule->action.alerts()) emit_alert(ctx, *rule, blocked);
  }
  return blocked ? Next::Stop : Next::Continue;
}

void EgressPolicy::emit_alert(const PacketContext& ctx, const Rule& rule, bool blocked) {
  const RuleAction& a = rule.action;
  std::string_view reason = reason_of(rule);
  auto& w = worker_.eve().begin(ctx.now, "alert", ctx.flow);
  w.Key("alert");
  w.StartObject();
  w.Key("action");
  w.String(blocked ? "blocked" : "allowed");
  w.Key("signature");
  w.String(a.signature.data(), static_cast<rapidjson::SizeType>(a.signature.size()));
  w.Key("category");
  w.String(a.category.data(), static_cast<rapidjson::SizeType>(a.category.size()));
  w.Key("severity");
  w.Uint(a.severity);
  w.Key("reason");
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  if (a.monitor) {
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
