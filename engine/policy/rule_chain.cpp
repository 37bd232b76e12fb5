#include "rule_chain.h"

#include <fmt/format.h>
#include <net/if.h>

#include <algorithm>
#include <map>

#include "eve_facts.h"

namespace tripline {

std::string RuleAction::to_string() const {
  std::vector<std::string> words;
  if (alert) words.emplace_back("alert");
  if (capture) {
    const char* scope = capture_scope == RuleCaptureScope::Flow   ? "flow"
                        : capture_scope == RuleCaptureScope::Host ? "host"
                                                                  : "all";
    words.push_back(fmt::format("capture({})", scope));
  }
  if (verb != RuleVerb::Continue || words.empty()) words.emplace_back(tripline::to_string(verb));
  std::string out = fmt::format("{}", fmt::join(words, ", "));
  if (monitor) out += " [monitor: alert would_block, decides nothing]";
  std::vector<std::string> notes;
  bool decides = (verb == RuleVerb::Accept || verb == RuleVerb::Drop || verb == RuleVerb::Reject);
  if (reason_from_dns)
    notes.emplace_back("reason unresolved | expired | other-client");
  else if ((decides && !monitor) || alerts())
    notes.push_back("reason " + reason);
  if (counter_name) notes.push_back(fmt::format("counts {}", counter_name));
  if (!notes.empty()) out += fmt::format(" ({})", fmt::join(notes, "; "));
  return out;
}

std::string Rule::to_string() const {
  return fmt::format("{}: {} -> {}", name, selector->to_string(), action.to_string());
}

void RuleSet::evaluate(FlowFacts& facts, RuleEvaluation& out, StageProfile* profile) const {
  out.matched.clear();
  out.decided_by = nullptr;
  for (const RuleChain& chain : chains_) {
    if (profile) [[unlikely]]
      profile->enter(chain.profile);
    for (const Rule& rule : chain.rules) {
      if (!rule.selector->matches(facts)) continue;
      out.matched.push_back(&rule);
      if (rule.action.terminal()) {
        out.decided_by = &rule;
        return;
      }
    }
  }
}

std::string RuleSet::fingerprint() const {
  // The egress chain is left out: it decides nothing for a flow judged again
  // but through the DNS gate, which judges new connections only.
  std::string out;
  for (const auto& z : zones_) {
    out += "zone " + z->name;
    for (const Cidr& c : z->cidrs.prefixes()) out += " " + cidr_text(c);
    for (const std::string& i : z->interfaces) out += " interface " + i;
    out += "\n";
  }
  for (const RuleChain& chain : chains_) {
    if (chain.name == "egress") continue;
    for (const Rule& rule : chain.rules) out += rule.to_string() + "\n";
  }
  return out + "lists " + list_content_;
}

std::string RuleSet::to_string() const {
  if (chains_.empty()) return "  (none: no [[rule]], [egress] mode = off)\n";
  std::string out;
  for (const auto& z : zones_) {
    std::vector<std::string> parts;
    for (const Cidr& c : z->cidrs.prefixes()) parts.push_back(cidr_text(c));
    for (const std::string& i : z->interfaces) parts.push_back("interface " + i);
    out += fmt::format("  zone {}: {}\n", z->name, fmt::join(parts, ", "));
  }
  for (const RuleChain& chain : chains_) {
    out += fmt::format("  chain {}{}:\n", chain.name,
                       chain.note.empty() ? "" : " (" + chain.note + ")");
    for (const Rule& rule : chain.rules)
      out += fmt::format("    {:>2}. {}\n", rule.index + 1, rule.to_string());
  }
  for (const std::string& w : warnings_) out += fmt::format("  warning: {}\n", w);
  return out;
}

class RuleSetBuilder {
 public:
  RuleSetBuilder(const Config& cfg, InterfaceNames interfaces)
      : cfg_(cfg), interfaces_(interfaces), set_(std::make_unique<RuleSet>()) {}

  std::unique_ptr<RuleSet> build() {
    for (const ZoneConfig& z : cfg_.zones) add_zone(z);
    if (!cfg_.rules.empty()) {
      RuleChain chain{"rules", "[[rule]], in file order", {}};
      for (const RuleConfig& rc : cfg_.rules) chain.rules.push_back(user_rule(rc));
      set_->chains_.push_back(std::move(chain));
    }
    if (cfg_.egress.mode != EgressMode::Off) set_->chains_.push_back(egress_chain());
    size_t index = 0;
    for (RuleChain& chain : set_->chains_)
      for (Rule& rule : chain.rules) {
        rule.index = index++;
        rule.profile = chain.profile;
      }
    set_->rule_count_ = index;
    if (uses_dns_ && cfg_.dns.resolvers.empty())
      set_->warnings_.push_back(
          "rules look at DNS answers (resolved, domain, domain_list) but [dns] resolvers is "
          "empty: no destination is ever resolved");
    if (uses_capture_ && cfg_.capture.dir.empty())
      set_->warnings_.push_back(
          "rules start captures but [capture] dir is empty: capture does nothing (replay: "
          "--capture-dir turns it on)");
    return std::move(set_);
  }

 private:
  void add_zone(const ZoneConfig& zc) {
    auto z = std::make_shared<Zone>();
    z->name = zc.name;
    z->cidrs = zc.cidrs;
    z->interfaces = zc.interfaces;
    if (interfaces_ != InterfaceNames::Ignore) {
      for (const std::string& name : zc.interfaces) {
        unsigned index = if_nametoindex(name.c_str());
        if (index != 0) {
          z->ifindexes.push_back(index);
          continue;
        }
        std::string what =
            fmt::format("{}: no interface \"{}\" on this host", zc.interfaces_origin, name);
        if (interfaces_ == InterfaceNames::Resolve) throw ConfigError(what);
        set_->warnings_.push_back(what + " (tripline run would stop here)");
      }
    }
    zones_[z->name] = z;
    set_->zones_.push_back(std::move(z));
  }

  std::shared_ptr<const DomainSet> domains(const MatchNode& n) {
    auto set = std::make_shared<DomainSet>(DomainListKind::Block);
    if (n.kind == MatchKind::Domain) {
      for (const std::string& name : n.names)
        if (!set->add(name, "domain") && !set->find(name))
          throw ConfigError(fmt::format("{}: \"{}\" is not a domain name", n.origin, name));
      return set;
    }
    for (const std::string& file : n.names) {
      DomainListReport report;
      try {
        set->load_file(file, "domain_list", report);
      } catch (const DomainListError& e) {
        throw ConfigError(fmt::format("{}: {}", n.origin, e.what()));
      }
    }
    set_->list_content_ += fmt::format("{:x} ", set->fingerprint());
    return set;
  }

  SelectorPtr selector(const MatchNode& n) {
    std::vector<SelectorPtr> children;
    for (const MatchNode& c : n.children) children.push_back(selector(c));
    auto zones = [&] {
      std::vector<std::shared_ptr<const Zone>> out;
      for (const std::string& name : n.zones) out.push_back(zones_.at(name));
      return out;
    };
    switch (n.kind) {
      case MatchKind::All:
        return select_all();
      case MatchKind::And:
        return select_and(std::move(children));
      case MatchKind::Or:
        return select_or(std::move(children));
      case MatchKind::Not:
        return select_not(std::move(children.front()));
      case MatchKind::Src:
        return select_src(n.cidrs);
      case MatchKind::Dst:
        return select_dst(n.cidrs);
      case MatchKind::Port:
        return select_port(n.ports);
      case MatchKind::SrcPort:
        return select_src_port(n.ports);
      case MatchKind::Proto:
        return select_proto(n.protos);
      case MatchKind::Direction:
        return select_direction(n.directions);
      case MatchKind::SrcZone:
        return select_src_zone(zones());
      case MatchKind::DstZone:
        return select_dst_zone(zones());
      case MatchKind::Domain:
      case MatchKind::DomainList: {
        uses_dns_ = true;
        std::vector<std::string> shown;
        for (const std::string& s : n.names) shown.push_back(s);
        const char* key = n.kind == MatchKind::Domain ? "domain" : "domain_list";
        std::string words = shown.size() == 1 ? fmt::format("{} {}", key, shown.front())
                                              : fmt::format("{} [{}]", key, fmt::join(shown, ", "));
        return select_domain(domains(n), std::move(words));
      }
      case MatchKind::Resolved:
        uses_dns_ = true;
        return select_resolved(n.resolved);
    }
    throw ConfigError(fmt::format("{}: unknown match", n.origin));  // cannot happen
  }

  Rule user_rule(const RuleConfig& rc) {
    Rule r;
    r.name = rc.name;
    r.selector = selector(rc.match);
    RuleAction& a = r.action;
    a.verb = rc.verb;
    a.alert = rc.alert;
    a.capture = rc.capture;
    a.monitor = rc.monitor;
    a.severity = rc.severity;
    a.capture_scope = rc.capture_scope;
    a.capture_duration = rc.capture_duration;
    a.capture_packets = rc.capture_packets;
    a.capture_bytes = rc.capture_bytes;
    a.reason = "rule:" + rc.name;
    a.signature = "tripline rule " + rc.name;
    a.signature_id = kSidUserRule;
    a.category = "rule";
    uses_capture_ |= rc.capture;
    return r;
  }

  // [egress] as rules: only outbound flows are checked; resolvers and
  // [egress] allow pass with no decision (the flow keeps the default); an
  // address the DNS cache opened for the client is accepted ("dns");
  // everything else is blocked (enforce) or reported (monitor).
  RuleChain egress_chain() {
    const EgressConfig& e = cfg_.egress;
    bool enforce = e.mode == EgressMode::Enforce;
    RuleChain chain;
    chain.name = "egress";
    chain.profile = ProfileStage::Egress;
    chain.note = fmt::format("[egress] mode = {}, action = {}", enforce ? "enforce" : "monitor",
                             tripline::to_string(e.action));
    auto rule = [&](std::string name, SelectorPtr s) {
      Rule r;
      r.name = std::move(name);
      r.selector = std::move(s);
      return r;
    };

    Rule outbound =
        rule("egress.not-outbound", select_not(select_direction({FlowDirection::Outbound})));
    outbound.action.verb = RuleVerb::Return;
    chain.rules.push_back(std::move(outbound));

    if (!cfg_.dns.resolvers.empty()) {
      CidrSet resolvers;
      for (const ResolverAddr& a : cfg_.dns.resolvers)
        resolvers.add(Cidr{a.addr, static_cast<uint8_t>(a.addr.is_v4() ? 32 : 128)});
      Rule r = rule("egress.resolvers", select_dst(std::move(resolvers)));
      r.action.verb = RuleVerb::Return;
      chain.rules.push_back(std::move(r));
    }
    if (!e.allow.empty()) {
      Rule r = rule("egress.allow", select_dst(e.allow));
      r.action.verb = RuleVerb::Return;
      chain.rules.push_back(std::move(r));
    }

    Rule dns = rule("egress.dns", select_resolved(ResolvedBy::Client));
    dns.action.verb = RuleVerb::Accept;
    dns.action.reason = "dns";
    dns.action.counter = &Counters::egress_allowed;
    dns.action.counter_name = "egress_allowed";
    chain.rules.push_back(std::move(dns));

    Rule block = rule("egress.unresolved", select_all());
    block.action.verb = e.action == Verdict::Reject ? RuleVerb::Reject : RuleVerb::Drop;
    block.action.alert = true;
    block.action.monitor = !enforce;
    block.action.reason_from_dns = true;
    block.action.signature = "tripline egress: destination not resolved for this client";
    block.action.signature_id = kSidEgressUnresolved;
    block.action.category = "egress";
    block.action.counter = enforce ? &Counters::egress_blocked : &Counters::egress_would_block;
    block.action.counter_name = enforce ? "egress_blocked" : "egress_would_block";
    chain.rules.push_back(std::move(block));
    return chain;
  }

  const Config& cfg_;
  InterfaceNames interfaces_;
  std::unique_ptr<RuleSet> set_;
  std::map<std::string, std::shared_ptr<const Zone>> zones_;
  bool uses_dns_ = false;
  bool uses_capture_ = false;
};

std::unique_ptr<RuleSet> build_rule_set(const Config& cfg, InterfaceNames interfaces) {
  return RuleSetBuilder(cfg, interfaces).build();
}

}  // namespace tripline
