#include "rule_config.h"

#include <gtest/gtest.h>

#include "config.h"

namespace tripline {
namespace {

// Errors must say where (file:line) and what key; their wording is free.
#define EXPECT_PREFIX(text, prefix) EXPECT_EQ((text).rfind(prefix, 0), 0u) << (text)

std::string error_of(const std::string& text) {
  try {
    Config::load_string(text, "r.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

TEST(RuleConfig, ReadsRulesInFileOrder) {
  Config c = Config::load_string(R"(
[[rule]]
name = "bad-net"
match = { dst = ["198.51.100.0/24", "2001:db8:bad::/48"] }
action = ["alert", "drop"]

[[rule]]
name = "ntp"
match = { proto = "udp", port = [123, "8000-8100"] }
action = "accept"

[[rule]]
name = "watch"
match = { src_zone = "iot", not = { resolved = "client" } }
action = ["capture", "reject"]
monitor = true
severity = 3
capture = { scope = "host", seconds = 30, packets = 100, megabytes = 2 }

[zones.iot]
cidrs = ["10.0.50.0/24"]
interfaces = ["wlan1"]
)",
                                 "/etc/tripline/r.toml");
  ASSERT_EQ(c.rules.size(), 3u);
  const RuleConfig& bad = c.rules[0];
  EXPECT_EQ(bad.name, "bad-net");
  EXPECT_EQ(bad.origin, "/etc/tripline/r.toml:3");
  EXPECT_EQ(bad.match.kind, MatchKind::Dst);
  EXPECT_TRUE(bad.match.cidrs.contains(ip("198.51.100.7")));
  EXPECT_TRUE(bad.match.cidrs.contains(ip("2001:db8:bad::1")));
  EXPECT_TRUE(bad.alert);
  EXPECT_FALSE(bad.capture);
  EXPECT_EQ(bad.verb, RuleVerb::Drop);

  const RuleConfig& ntp = c.rules[1];
  ASSERT_EQ(ntp.match.kind, MatchKind::And);
  ASSERT_EQ(ntp.match.children.size(), 2u);
  // Keys keep the order they were written in (not the table's sorted order).
  EXPECT_EQ(ntp.match.children[0].kind, MatchKind::Proto);
  EXPECT_EQ(ntp.match.children[0].protos, std::vector<uint8_t>{17});
  EXPECT_EQ(ntp.match.children[1].kind, MatchKind::Port);
  EXPECT_EQ(ntp.match.children[1].ports, (std::vector<PortRange>{{123, 123}, {8000, 8100}}));
  EXPECT_EQ(ntp.verb, RuleVerb::Accept);

  const RuleConfig& watch = c.rules[2];
  ASSERT_EQ(watch.match.kind, MatchKind::And);
  EXPECT_EQ(watch.match.children[0].kind, MatchKind::SrcZone);
  EXPECT_EQ(watch.match.children[0].zones, std::vector<std::string>{"iot"});
  ASSERT_EQ(watch.match.children[1].kind, MatchKind::Not);
  EXPECT_EQ(watch.match.children[1].children.at(0).kind, MatchKind::Resolved);
  EXPECT_EQ(watch.match.children[1].children.at(0).resolved, ResolvedBy::Client);
  EXPECT_TRUE(watch.monitor);
  EXPECT_TRUE(watch.capture);
  EXPECT_EQ(watch.severity, 3);
  EXPECT_EQ(watch.capture_scope, RuleCaptureScope::Host);
  EXPECT_EQ(watch.capture_duration, seconds(30));
  EXPECT_EQ(watch.capture_packets, 100u);
  EXPECT_EQ(watch.capture_bytes, 2u << 20);

  ASSERT_EQ(c.zones.size(), 1u);
  EXPECT_EQ(c.zones[0].name, "iot");
  EXPECT_TRUE(c.zones[0].cidrs.contains(ip("10.0.50.9")));
  EXPECT_EQ(c.zones[0].interfaces, std::vector<std::string>{"wlan1"});
}

TEST(RuleConfig, MatchNesting) {
  Config c = Config::load_string(R"(
[[rule]]
name = "n"
match = { any = [{ port = 80 }, { all = [{ proto = "tcp" }, { src_port = 1 }] }], direction = ["outbound", "internal"] }
action = "continue"

[[rule]]
name = "everything"
match = {}
action = "alert"

[[rule]]
name = "listed"
match = { domain = "example.com", domain_list = ["ads.txt", "/abs/list.txt"], resolved = "anyone" }
action = "return"
)",
                                 "/etc/tripline/r.toml");
  const MatchNode& m = c.rules[0].match;
  ASSERT_EQ(m.kind, MatchKind::And);
  ASSERT_EQ(m.children[0].kind, MatchKind::Or);
  ASSERT_EQ(m.children[0].children.size(), 2u);
  EXPECT_EQ(m.children[0].children[1].kind, MatchKind::And);
  EXPECT_EQ(m.children[0].children[1].children[1].kind, MatchKind::SrcPort);
  EXPECT_EQ(m.children[1].directions,
            (std::vector<FlowDirection>{FlowDirection::Outbound, FlowDirection::Internal}));
  EXPECT_EQ(c.rules[0].verb, RuleVerb::Continue);

  EXPECT_EQ(c.rules[1].match.kind, MatchKind::All);
  EXPECT_TRUE(c.rules[1].alert);
  EXPECT_EQ(c.rules[1].verb, RuleVerb::Continue);

  const MatchNode& l = c.rules[2].match;
  EXPECT_EQ(l.children[0].names, std::vector<std::string>{"example.com"});
  // List files are relative to the config file's folder.
  EXPECT_EQ(l.children[1].names,
            (std::vector<std::string>{"/etc/tripline/ads.txt", "/abs/list.txt"}));
  EXPECT_EQ(l.children[2].resolved, ResolvedBy::Anyone);
  EXPECT_EQ(c.rules[2].verb, RuleVerb::Return);
}

TEST(RuleConfig, ErrorsNameFileLineAndKey) {
  const std::string head = "[[rule]]\nname = \"x\"\n";
  EXPECT_PREFIX(error_of(head + "match = { dst = \"300.0.0.0/8\" }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.dst:");
  EXPECT_PREFIX(error_of(head + "match = { dts = \"10.0.0.0/8\" }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.dts:");
  EXPECT_PREFIX(error_of(head + "match = { port = \"90-80\" }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.port:");
  EXPECT_PREFIX(error_of(head + "match = { port = 70000 }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.port:");
  EXPECT_PREFIX(error_of(head + "match = { proto = \"tpc\" }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.proto:");
  EXPECT_PREFIX(error_of(head + "match = { direction = \"up\" }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.direction:");
  EXPECT_PREFIX(error_of(head + "match = { resolved = true }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.resolved:");
  EXPECT_PREFIX(error_of(head + "match = { not = 3 }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.not:");
  EXPECT_PREFIX(error_of(head + "match = { any = [] }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.any:");
  EXPECT_PREFIX(
      error_of(head + "match = { any = [{ port = 1 }, { prot = 2 }] }\naction = \"drop\"\n"),
      "r.toml:3: rule[x].match.any[2].prot:");
  EXPECT_PREFIX(error_of(head + "match = \"everything\"\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match:");
  EXPECT_PREFIX(error_of(head + "action = \"drop\"\n"), "r.toml:1: rule[x].match:");
  EXPECT_PREFIX(error_of(head + "match = {}\n"), "r.toml:1: rule[x].action:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = \"dorp\"\n"), "r.toml:4: rule[x].action:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = [\"drop\", \"accept\"]\n"),
                "r.toml:4: rule[x].action:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = [\"alert\", \"alert\"]\n"),
                "r.toml:4: rule[x].action:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = \"accept\"\nmonitor = true\n"),
                "r.toml:5: rule[x].monitor:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = \"drop\"\nseverity = 3\n"),
                "r.toml:5: rule[x].severity:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = \"drop\"\ncapture = { seconds = 5 }\n"),
                "r.toml:5: rule[x].capture:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = \"capture\"\ncapture = { scope = \"me\" }\n"),
                "r.toml:5: rule[x].capture.scope:");
  EXPECT_PREFIX(error_of(head + "match = {}\naction = \"drop\"\ncolour = 1\n"),
                "r.toml:5: rule[x].colour:");
  EXPECT_PREFIX(error_of("[[rule]]\nmatch = {}\naction = \"drop\"\n"), "r.toml:1: rule[#1].name:");
  EXPECT_PREFIX(error_of("[[rule]]\nname = \"a b\"\nmatch = {}\naction = \"drop\"\n"),
                "r.toml:2: rule[#1].name:");
  EXPECT_PREFIX(
      error_of(head + "match = {}\naction = \"drop\"\n" + head + "match = {}\naction = \"drop\"\n"),
      "r.toml:6: rule[#2].name:");
  EXPECT_PREFIX(error_of("[rule]\nname = \"x\"\n"), "r.toml:1: rule:");
  // A zone that is not defined; [zones] may come after the rule.
  EXPECT_PREFIX(error_of(head + "match = { dst_zone = \"wan\" }\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.dst_zone:");
  EXPECT_EQ(error_of(head + "match = { dst_zone = \"wan\" }\naction = \"drop\"\n"
                            "[zones.wan]\ninterfaces = [\"eth0\"]\n"),
            "");
}

TEST(RuleConfig, ZoneErrors) {
  EXPECT_PREFIX(error_of("[zones.iot]\ncidrs = [\"x\"]\n"), "r.toml:2: zones.iot.cidrs:");
  EXPECT_PREFIX(error_of("[zones.iot]\ninterfaces = [\"a/b\"]\n"),
                "r.toml:2: zones.iot.interfaces:");
  EXPECT_PREFIX(error_of("[zones.iot]\ninterfaces = [\"much-too-long-name\"]\n"),
                "r.toml:2: zones.iot.interfaces:");
  EXPECT_PREFIX(error_of("[zones.iot]\ncidrs = [\"10.0.0.0/8\"]\ncolour = 1\n"),
                "r.toml:3: zones.iot.colour:");
  EXPECT_PREFIX(error_of("[zones.iot]\n"), "r.toml:1: zones.iot");
  EXPECT_PREFIX(error_of("[zones]\niot = 1\n"), "r.toml:2: zones.iot:");
}

TEST(RuleConfig, DeepNestingIsRefused) {
  std::string match = "{ port = 1 }";
  for (int i = 0; i < 40; ++i) match = "{ not = " + match + " }";
  EXPECT_PREFIX(error_of("[[rule]]\nname = \"x\"\nmatch = " + match + "\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match");
}

}  // namespace
}  // namespace tripline
