#include "policy_stage.h"

#include <fmt/format.h>

#include "capture_recorder.h"
#include "client_names.h"
#include "dns_cache.h"

namespace tripline {

PolicyStage::PolicyStage(const Config& cfg, const RuleSet& rules, const DnsCache* cache,
                         StageEnv& env, const HostTable* hosts, const ClientNames* names)
    : cfg_(cfg),
      rules_(rules),
      env_(env),
      facts_(cfg.network.inside, cache, hosts),
      names_(names),
      own_profile_(rules.chains().empty() ? ProfileStage::RuleChain
                                          : rules.chains().front().profile) {
  eval_.matched.reserve(rules.rule_count());
  rule_counters_.resize(rules.rule_count());
  capture_of_.resize(rules.rule_count());
  reasons_.resize(rules.rule_count());
  for (const RuleChain& chain : rules.chains())
    for (const Rule& rule : chain.rules) {
      rule_counters_[rule.index] = &env.counters().named.add("rule." + rule.name);
      reasons_[rule.index] = intern_reason(rule.action.reason);
    }
}

bool PolicyStage::likes(const PacketContext& ctx) const { return ctx.new_flow || ctx.rejudge; }

std::string_view PolicyStage::reason_of(const Rule& rule) {
  if (!rule.action.reason_from_dns) return reasons_[rule.index];
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

void PolicyStage::start_capture(const PacketContext& ctx, const Rule& rule) {
  CaptureRecorder* rec = env_.capture();
  capture_of_[rule.index] = 0;
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
  std::string trigger = fmt::format("rule {}", rule.name);  // per trigger, not per packet
  req.trigger = trigger;
  if (a.alerts()) req.signature = a.signature;
  capture_of_[rule.index] = rec->start(req, ctx.pkt, ctx.flow, ctx.now);
}

Next PolicyStage::rejudge(PacketContext& ctx) {
  // An open flow the policy accepted, after a reload changed the rules: only
  // a rule that blocks it changes it. The DNS gate (a decision whose reason
  // is the DNS lookup's) judges new connections only, as adoption keeps
  // established ones at a restart; what else matches (alerts, captures,
  // monitor rules) saw the flow when it was new.
  // The rules look at the flow from its client's side: a packet from the
  // server has the interfaces the other way round, and the server's link
  // address (the client's host, when known, is the flow's).
  const PacketMeta* meta = &ctx.meta;
  if (ctx.dir == kToClient) {
    rejudge_meta_ = {ctx.meta.out_ifindex, ctx.meta.in_ifindex, ctx.flow.data.client_host()};
    meta = &rejudge_meta_;
  }
  facts_.reset(ctx.flow, *meta, ctx.now);
  rules_.evaluate(facts_, eval_);
  const Rule* rule = eval_.decided_by;
  if (!rule || rule->action.reason_from_dns ||
      (rule->action.verb != RuleVerb::Drop && rule->action.verb != RuleVerb::Reject))
    return Next::Continue;
  eval_.matched.assign(1, rule);  // what on_new_flow_decided reports
  rule_counters_[rule->index]->add();
  if (rule->action.counter) (env_.counters().*(rule->action.counter)).add();
  if (rule->action.capture) start_capture(ctx, *rule);
  Decision d;
  d.verdict = rule->action.verb == RuleVerb::Drop ? Verdict::Drop : Verdict::Reject;
  d.reason = reason_of(*rule);
  if (d.verdict == Verdict::Reject) {
    d.mark = cfg_.egress.reject_mark;
    d.has_mark = true;
  }
  ctx.decide_flow(d);
  if (env_.events_on()) {
    alerts_pending_ = rule->action.alerts();
    blocked_ = true;
  }
  return Next::Continue;
}

Next PolicyStage::inspect(PacketContext& ctx) {
  if (ctx.rejudge) return rejudge(ctx);
  facts_.reset(ctx.flow, ctx.meta, ctx.now);
  // The client's host, for the flow's events (a routed client has none).
  const ClientId& client = facts_.client();
  if (client.is_host()) ctx.flow.data.set_client_host(client.mac);
  // Its name from the DHCP leases (by host, else by the source address).
  if (names_)
    ctx.flow.data.set_client_name(
        names_->find(client.is_host() ? client.mac : MacAddr{}, ctx.flow.src()));
  StageProfile* profile = env_.profile();
  rules_.evaluate(facts_, eval_, profile);
  if (eval_.matched.empty()) return Next::Continue;

  for (const Rule* rule : eval_.matched) {
    if (profile) [[unlikely]]
      profile->enter(rule->profile);  // what a match does is its chain's
    rule_counters_[rule->index]->add();
    if (rule->action.counter) (env_.counters().*(rule->action.counter)).add();
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
  if (facts_.looked_up() && facts_.dns().status == DnsLookupStatus::Open)
    ctx.flow.data.set_dns_name(facts_.dns().name.view());

  // Alerts wait for the flow's final decision (on_new_flow_decided): a
  // trigger after this stage has the last word, also on a blocked flow.
  if (env_.events_on()) {
    for (const Rule* rule : eval_.matched) alerts_pending_ |= rule->action.alerts();
    blocked_ = blocked;
  }
  return Next::Continue;
}

void PolicyStage::on_new_flow_decided(const PacketContext& ctx) {
  if (!alerts_pending_) return;
  alerts_pending_ = false;
  // What the flow keeps (a trigger's error decides its packet only).
  const Decision& final = ctx.flow_decided ? ctx.flow_decision : ctx.decision;
  const bool blocked = final.verdict != Verdict::Accept;
  for (const Rule* rule : eval_.matched) {
    if (!rule->action.alerts()) continue;
    // The block's alert is written only when the block stands.
    if (rule == eval_.decided_by && blocked_ && !blocked) continue;
    if (StageProfile* profile = env_.profile()) [[unlikely]]
      profile->enter(rule->profile);
    emit_alert(ctx, *rule, blocked);
  }
}

void PolicyStage::emit_alert(const PacketContext& ctx, const Rule& rule, bool blocked) {
  const RuleAction& a = rule.action;
  std::string_view file;  // the recording this match started, for capture_file
  if (a.capture && env_.capture()) file = env_.capture()->file_of(capture_of_[rule.index]);
  env_.emit(env_.eve().alert_event({.now = ctx.now,
                                    .flow = ctx.flow,
                                    .blocked = blocked,
                                    .signature_id = a.signature_id,
                                    .signature = a.signature,
                                    .category = a.category,
                                    .severity = a.severity,
                                    .reason = reason_of(rule),
                                    .would_block = a.monitor,
                                    .capture_file = file}));
}

}  // namespace tripline
