#include "rule_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include "config_reader.h"

namespace tripline {

const char* to_string(FlowDirection d) {
  switch (d) {
    case FlowDirection::Outbound:
      return "outbound";
    case FlowDirection::Inbound:
      return "inbound";
    case FlowDirection::Internal:
      return "internal";
    case FlowDirection::External:
      return "external";
  }
  return "?";
}

const char* to_string(RuleVerb v) {
  switch (v) {
    case RuleVerb::Continue:
      return "continue";
    case RuleVerb::Accept:
      return "accept";
    case RuleVerb::Drop:
      return "drop";
    case RuleVerb::Reject:
      return "reject";
    case RuleVerb::Return:
      return "return";
  }
  return "?";
}

namespace config_detail {
namespace {

// Match trees deeper than this are refused (they would only come from a
// generator gone wrong, and evaluation recurses).
constexpr int kMaxMatchDepth = 16;
constexpr size_t kMaxNameLength = 64;

// node: a toml::node or toml::key (anything with a source position).
template <typename Node>
[[noreturn]] void fail_at(const std::string& file, const Node& node, const std::string& path,
                          const std::string& what) {
  throw ConfigError(fmt::format("{}:{}: {}: {}", file, node.source().begin.line, path, what));
}

std::string origin_of(const std::string& file, const toml::node& node, const std::string& path) {
  return fmt::format("{}:{}: {}", file, node.source().begin.line, path);
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// A value key's items: the node itself, or each item of a non-empty array.
std::vector<const toml::node*> items_of(const std::string& file, const toml::node& node,
                                        const std::string& path) {
  std::vector<const toml::node*> out;
  if (const toml::array* arr = node.as_array()) {
    if (arr->empty()) fail_at(file, node, path, "expected at least one value");
    for (const toml::node& item : *arr) out.push_back(&item);
  } else {
    out.push_back(&node);
  }
  return out;
}

std::string string_item(const std::string& file, const toml::node& item, const std::string& path,
                        const char* what) {
  auto s = item.value_exact<std::string>();
  if (!s) fail_at(file, item, path, fmt::format("expected {} (or a list of them)", what));
  return *s;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

PortRange port_item(const std::string& file, const toml::node& item, const std::string& path) {
  if (auto v = item.value_exact<int64_t>()) {
    if (*v < 0 || *v > 65535) fail_at(file, item, path, fmt::format("{} is not a port", *v));
    return {static_cast<uint16_t>(*v), static_cast<uint16_t>(*v)};
  }
  auto s = item.value_exact<std::string>();
  if (!s) fail_at(file, item, path, "expected a port, \"lo-hi\" or a list of them");
  std::string_view text = *s;
  auto dash = text.find('-');
  auto lo = parse_port(text.substr(0, dash));
  auto hi = dash == std::string_view::npos ? lo : parse_port(text.substr(dash + 1));
  if (!lo || !hi || *lo > *hi)
    fail_at(file, item, path, fmt::format("\"{}\" is not a port or a range lo-hi", text));
  return {*lo, *hi};
}

uint8_t proto_item(const std::string& file, const toml::node& item, const std::string& path) {
  if (auto v = item.value_exact<int64_t>()) {
    if (*v < 0 || *v > 255)
      fail_at(file, item, path, fmt::format("{} is not a protocol number", *v));
    return static_cast<uint8_t>(*v);
  }
  std::string s = string_item(file, item, path, "a protocol");
  if (s == "tcp") return 6;
  if (s == "udp") return 17;
  if (s == "icmp") return 1;
  if (s == "icmpv6" || s == "icmp6") return 58;
  if (s == "sctp") return 132;
  if (s == "gre") return 47;
  if (s == "esp") return 50;
  fail_at(file, item, path,
          fmt::format("\"{}\": expected tcp, udp, icmp, icmpv6, sctp, gre, esp or a number", s));
}

FlowDirection direction_item(const std::string& file, const toml::node& item,
                             const std::string& path) {
  std::string s = string_item(file, item, path, "a direction");
  if (s == "outbound") return FlowDirection::Outbound;
  if (s == "inbound") return FlowDirection::Inbound;
  if (s == "internal") return FlowDirection::Internal;
  if (s == "external") return FlowDirection::External;
  fail_at(file, item, path,
          fmt::format("\"{}\": expected outbound, inbound, internal or external", s));
}

MatchNode read_match(const std::string& file, const toml::node& node, const std::string& path,
                     int depth);

// A match table: its keys ANDed, in the order they were written.
MatchNode read_match_table(const std::string& file, const toml::table& table,
                           const std::string& path, int depth) {
  if (depth > kMaxMatchDepth)
    fail_at(file, table, path, fmt::format("nested deeper than {} levels", kMaxMatchDepth));
  std::vector<std::pair<const toml::key*, const toml::node*>> keys;
  for (auto&& [key, value] : table) keys.emplace_back(&key, &value);
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });

  MatchNode all;
  all.kind = MatchKind::And;
  all.origin = origin_of(file, table, path);
  for (const auto& [key, value] : keys) {
    std::string k(key->str());
    std::string p = path + "." + k;
    const toml::node& v = *value;
    MatchNode n;
    n.origin = origin_of(file, v, p);
    if (k == "all" || k == "any") {
      n.kind = k == "all" ? MatchKind::And : MatchKind::Or;
      const toml::array* arr = v.as_array();
      if (!arr || arr->empty())
        fail_at(file, v, p,
                "expected a list of match tables, e.g. [{ port = 80 }, { port = 443 }]");
      size_t i = 0;
      for (const toml::node& item : *arr)
        n.children.push_back(read_match(file, item, fmt::format("{}[{}]", p, ++i), depth + 1));
    } else if (k == "not") {
      n.kind = MatchKind::Not;
      n.children.push_back(read_match(file, v, p, depth + 1));
    } else if (k == "src" || k == "dst") {
      n.kind = k == "src" ? MatchKind::Src : MatchKind::Dst;
      for (const toml::node* item : items_of(file, v, p)) {
        std::string s = string_item(file, *item, p, "a CIDR");
        auto cidr = Cidr::parse(s);
        if (!cidr) fail_at(file, *item, p, fmt::format("\"{}\" is not a CIDR", s));
        n.cidrs.add(*cidr);
      }
    } else if (k == "port" || k == "src_port") {
      n.kind = k == "port" ? MatchKind::Port : MatchKind::SrcPort;
      for (const toml::node* item : items_of(file, v, p))
        n.ports.push_back(port_item(file, *item, p));
    } else if (k == "proto") {
      n.kind = MatchKind::Proto;
      for (const toml::node* item : items_of(file, v, p))
        n.protos.push_back(proto_item(file, *item, p));
    } else if (k == "direction") {
      n.kind = MatchKind::Direction;
      for (const toml::node* item : items_of(file, v, p))
        n.directions.push_back(direction_item(file, *item, p));
    } else if (k == "src_zone" || k == "dst_zone") {
      n.kind = k == "src_zone" ? MatchKind::SrcZone : MatchKind::DstZone;
      for (const toml::node* item : items_of(file, v, p)) {
        std::string s = string_item(file, *item, p, "a zone name");
        if (!valid_name(s)) fail_at(file, *item, p, fmt::format("\"{}\" is not a zone name", s));
        n.zones.push_back(s);
      }
    } else if (k == "domain") {
      n.kind = MatchKind::Domain;
      for (const toml::node* item : items_of(file, v, p)) {
        std::string s = string_item(file, *item, p, "a domain name");
        if (s.empty() || s.size() > 253)
          fail_at(file, *item, p, fmt::format("\"{}\" is not a domain name", s));
        n.names.push_back(s);
      }
    } else if (k == "domain_list") {
      n.kind = MatchKind::DomainList;
      for (const toml::node* item : items_of(file, v, p)) {
        std::string s = string_item(file, *item, p, "a list file name");
        if (s.empty()) fail_at(file, *item, p, "expected a list file name");
        n.names.push_back(relative_to(file, s));
      }
    } else if (k == "resolved") {
      n.kind = MatchKind::Resolved;
      auto s = v.value_exact<std::string>();
      if (s && *s == "client")
        n.resolved = ResolvedBy::Client;
      else if (s && *s == "anyone")
        n.resolved = ResolvedBy::Anyone;
      else
        fail_at(file, v, p, "expected \"client\" or \"anyone\"");
    } else {
      fail_at(file, *key, p,
              "unknown match key (expected src, dst, port, src_port, proto, direction, "
              "src_zone, dst_zone, domain, domain_list, resolved, all, any, not)");
    }
    all.children.push_back(std::move(n));
  }
  if (all.children.empty()) {
    all.kind = MatchKind::All;
    return all;
  }
  if (all.children.size() == 1) return std::move(all.children.front());
  return all;
}

MatchNode read_match(const std::string& file, const toml::node& node, const std::string& path,
                     int depth) {
  const toml::table* table = node.as_table();
  if (!table) fail_at(file, node, path, "expected a match table, e.g. { dst = \"192.0.2.0/24\" }");
  return read_match_table(file, *table, path, depth);
}

RuleConfig read_rule(const std::string& file, const toml::table& table, size_t index,
                     std::set<std::string, std::less<>>& names) {
  RuleConfig rule;
  {
    TableReader probe(table, fmt::format("rule[#{}]", index), file);
    auto name = probe.get<std::string>("name");
    if (!name) probe.fail(table, "name", "missing: every [[rule]] needs a name");
    if (!valid_name(*name))
      probe.fail(probe.node("name"), "name",
                 fmt::format("\"{}\": expected 1..{} of A-Z a-z 0-9 _ -", *name, kMaxNameLength));
    if (!names.insert(*name).second)
      probe.fail(probe.node("name"), "name",
                 fmt::format("\"{}\" is used by an earlier rule", *name));
    rule.name = *name;
    rule.origin = fmt::format("{}:{}", file, probe.node("name").source().begin.line);
  }
  TableReader r(table, fmt::format("rule[{}]", rule.name), file);
  r.get<std::string>("name");

  r.known("match");
  const toml::node* match = table.get("match");
  if (!match) r.fail(table, "match", "missing (match = {} matches every flow)");
  rule.match = read_match(file, *match, r.path("match"), 1);

  std::vector<std::string> words;
  const toml::node* action = table.get("action");
  r.known("action");
  if (!action) r.fail(table, "action", "missing (e.g. action = \"drop\")");
  bool has_verb = false;
  std::set<std::string> seen;
  for (const toml::node* item : items_of(file, *action, r.path("action"))) {
    std::string w = string_item(file, *item, r.path("action"), "an action");
    if (!seen.insert(w).second) r.fail(*item, "action", fmt::format("\"{}\" given twice", w));
    if (w == "alert") {
      rule.alert = true;
      continue;
    }
    if (w == "capture") {
      rule.capture = true;
      continue;
    }
    RuleVerb verb = RuleVerb::Continue;
    if (w == "continue")
      verb = RuleVerb::Continue;
    else if (w == "accept")
      verb = RuleVerb::Accept;
    else if (w == "drop")
      verb = RuleVerb::Drop;
    else if (w == "reject")
      verb = RuleVerb::Reject;
    else if (w == "return")
      verb = RuleVerb::Return;
    else
      r.fail(*item, "action",
             fmt::format(
                 "\"{}\": expected accept, drop, reject, return, continue, alert or capture", w));
    if (has_verb) r.fail(*item, "action", "at most one of accept, drop, reject, return, continue");
    has_verb = true;
    rule.verb = verb;
  }

  if (auto v = r.get<bool>("monitor")) {
    if (*v && rule.verb != RuleVerb::Drop && rule.verb != RuleVerb::Reject)
      r.fail(r.node("monitor"), "monitor", "only for a drop or reject action");
    rule.monitor = *v;
  }
  if (auto v = r.get<uint8_t>("severity")) {
    if (*v == 0) r.fail(r.node("severity"), "severity", "expected 1..255");
    if (!rule.alert && !rule.monitor)
      r.fail(r.node("severity"), "severity", "the rule raises no alert (add \"alert\" to action)");
    rule.severity = *v;
  }
  if (const toml::node* cap = table.get("capture")) {
    const toml::table* t = cap->as_table();
    if (!t) r.fail(*cap, "capture", "expected a table, e.g. { scope = \"flow\", seconds = 30 }");
    if (!rule.capture) r.fail(*cap, "capture", "the action does not include \"capture\"");
    TableReader c(*t, r.path("capture"), file);
    if (auto v = c.get<std::string>("scope")) {
      if (*v == "flow")
        rule.capture_scope = RuleCaptureScope::Flow;
      else if (*v == "host")
        rule.capture_scope = RuleCaptureScope::Host;
      else if (*v == "all")
        rule.capture_scope = RuleCaptureScope::All;
      else
        c.fail(c.node("scope"), "scope", "expected \"flow\", \"host\" or \"all\"");
    }
    if (auto v = c.get_seconds("seconds")) rule.capture_duration = *v;
    if (auto v = c.get<uint64_t>("packets")) {
      if (*v == 0) c.fail(c.node("packets"), "packets", "must be > 0");
      rule.capture_packets = *v;
    }
    if (auto v = c.get<uint32_t>("megabytes")) {
      if (*v == 0) c.fail(c.node("megabytes"), "megabytes", "must be > 0");
      rule.capture_bytes = uint64_t{*v} << 20;
    }
    c.finish();
  }
  r.known("capture");
  r.finish();
  return rule;
}

// Which [zones.NAME] exists, for the rules' references.
void check_zones_in(const MatchNode& n, const std::set<std::string, std::less<>>& zones) {
  for (const std::string& z : n.zones)
    if (!zones.count(z))
      throw ConfigError(
          fmt::format("{}: no zone \"{}\" (define it as [zones.{}] with cidrs and/or interfaces)",
                      n.origin, z, z));
  for (const MatchNode& c : n.children) check_zones_in(c, zones);
}

}  // namespace

void read_rules(const toml::node& node, const toml::key& key, const std::string& file,
                std::vector<RuleConfig>& rules) {
  const toml::array* arr = node.as_array();
  if (!arr || !arr->is_array_of_tables())
    throw ConfigError(fmt::format("{}:{}: rule: expected [[rule]] tables (an array of tables)",
                                  file, key.source().begin.line));
  std::set<std::string, std::less<>> names;
  for (const auto& r : rules) names.insert(r.name);
  size_t index = rules.size();
  for (const toml::node& item : *arr)
    rules.push_back(read_rule(file, *item.as_table(), ++index, names));
}

void read_zones(const toml::node& node, const toml::key& key, const std::string& file,
                std::vector<ZoneConfig>& zones) {
  const toml::table* table = node.as_table();
  if (!table)
    throw ConfigError(
        fmt::format("{}:{}: zones: expected [zones.NAME] tables", file, key.source().begin.line));
  for (auto&& [name, value] : *table) {
    std::string section = fmt::format("zones.{}", name.str());
    const toml::table* zt = value.as_table();
    if (!zt)
      throw ConfigError(fmt::format("{}:{}: {}: expected a table ([zones.{}])", file,
                                    name.source().begin.line, section, name.str()));
    if (!valid_name(name.str()))
      throw ConfigError(fmt::format("{}:{}: {}: expected a name of 1..{} of A-Z a-z 0-9 _ -", file,
                                    name.source().begin.line, section, kMaxNameLength));
    ZoneConfig z;
    z.name = std::string(name.str());
    z.origin = fmt::format("{}:{}: {}", file, name.source().begin.line, section);
    TableReader r(*zt, section, file);
    r.get_strings("cidrs", [&](const std::string& s, const toml::node& n) {
      auto cidr = Cidr::parse(s);
      if (!cidr) r.fail(n, "cidrs", fmt::format("\"{}\" is not a CIDR", s));
      z.cidrs.add(*cidr);
    });
    z.interfaces_origin = fmt::format("{}:{}: {}.interfaces", file,
                                      r.node("interfaces").source().begin.line, section);
    r.get_strings("interfaces", [&](const std::string& s, const toml::node& n) {
      // IFNAMSIZ is 16 with the terminating NUL; names hold no '/', ':' or blanks.
      bool ok = !s.empty() && s.size() < 16 && s != "." && s != ".." &&
                s.find_first_of("/: \t\n") == std::string::npos;
      if (!ok) r.fail(n, "interfaces", fmt::format("\"{}\" is not an interface name", s));
      z.interfaces.push_back(s);
    });
    r.finish();
    if (z.cidrs.empty() && z.interfaces.empty())
      r.fail(*zt, "cidrs", "a zone needs cidrs and/or interfaces");
    zones.push_back(std::move(z));
  }
}

void check_rule_references(const Config& c) {
  std::set<std::string, std::less<>> zones;
  for (const ZoneConfig& z : c.zones) zones.insert(z.name);
  for (const RuleConfig& r : c.rules) check_zones_in(r.match, zones);
}

}  // namespace config_detail
}  // namespace tripline
