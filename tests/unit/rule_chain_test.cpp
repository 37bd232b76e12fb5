#include "rule_chain.h"

#include <gtest/gtest.h>
#include <net/if.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dns_cache.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "policy_stage.h"
#include "policy_test_util.h"
#include "worker.h"

namespace tripline {
namespace {

using policy_test::ip;
using policy_test::make_flow;

std::string error_of(const std::string& toml, InterfaceNames names = InterfaceNames::Ignore) {
  try {
    build_rule_set(Config::load_string(toml, "r.toml"), names);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_PREFIX(text, prefix) EXPECT_EQ((text).rfind(prefix, 0), 0u) << (text)

// Builds a rule set from TOML and evaluates flows against it.
class RuleChainTest : public ::testing::Test {
 protected:
  void build(const std::string& toml) {
    cfg_ = std::make_unique<Config>(Config::load_string(toml, "r.toml"));
    rules_ = build_rule_set(*cfg_, InterfaceNames::Ignore);
    facts_ = std::make_unique<FlowFacts>(cfg_->network.inside, &cache_);
  }
  // Names of the matching rules, the deciding one marked with '!'.
  std::vector<std::string> eval(const char* src, const char* dst, uint16_t dport,
                                uint8_t proto = 6) {
    flow_ = make_flow(src, 40000, dst, dport, proto);
    facts_->reset(flow_, kNoPacketMeta, now_);
    RuleEvaluation out;
    rules_->evaluate(*facts_, out);
    std::vector<std::string> names;
    for (const Rule* r : out.matched) names.push_back(r->name + (r == out.decided_by ? "!" : ""));
    return names;
  }
  void resolve(const char* client, const char* addr) {
    std::vector<std::string> chain{"www.example.com"};
    cache_.insert(ip(client), ip(addr), chain, 300, now_);
  }
  std::vector<std::string> rule_lines() const {
    std::vector<std::string> out;
    for (const RuleChain& c : rules_->chains())
      for (const Rule& r : c.rules) out.push_back(r.to_string());
    return out;
  }

  std::unique_ptr<Config> cfg_;
  std::unique_ptr<RuleSet> rules_;
  DnsCache cache_{DnsCacheConfig{}};
  std::unique_ptr<FlowFacts> facts_;
  Flow flow_;
  Timestamp now_ = 1767225600 * kNsPerSec;
};

using V = std::vector<std::string>;

TEST_F(RuleChainTest, DefaultChainIsTodaysEgress) {
  build(R"(
[dns]
resolvers = ["10.0.0.53"]
[egress]
mode = "enforce"
action = "reject"
allow = ["192.0.2.0/24"]
)");
  ASSERT_EQ(rules_->chains().size(), 1u);
  EXPECT_EQ(rules_->chains()[0].name, "egress");
  EXPECT_EQ(
      rule_lines(),
      (V{"egress.not-outbound: not direction outbound -> return",
         "egress.resolvers: dst 10.0.0.53 -> return", "egress.allow: dst 192.0.2.0/24 -> return",
         "egress.dns: resolved client -> accept (reason dns; counts egress_allowed)",
         "egress.unresolved: all -> alert, reject (reason unresolved | expired | "
         "other-client; counts egress_blocked)"}));
  resolve("10.0.0.10", "203.0.113.100");
  EXPECT_EQ(eval("10.0.0.10", "203.0.113.100", 443), V{"egress.dns!"});
  EXPECT_EQ(eval("10.0.0.10", "203.0.113.101", 443), V{"egress.unresolved!"});
  EXPECT_EQ(eval("10.0.0.11", "203.0.113.100", 443), V{"egress.unresolved!"});  // other client
  EXPECT_EQ(eval("10.0.0.10", "10.0.0.53", 53, 17), V{"egress.not-outbound!"});
  EXPECT_EQ(eval("10.0.0.10", "192.0.2.9", 123, 17), V{"egress.allow!"});
  EXPECT_EQ(eval("203.0.113.1", "10.0.0.10", 22), V{"egress.not-outbound!"});
}

TEST_F(RuleChainTest, MonitorReportsWithoutDeciding) {
  build("[dns]\nresolvers = [\"10.0.0.53\"]\n[egress]\nmode = \"monitor\"\n");
  EXPECT_EQ(eval("10.0.0.10", "203.0.113.101", 443), V{"egress.unresolved"});
  EXPECT_EQ(rule_lines().back(),
            "egress.unresolved: all -> alert, reject [monitor: alert would_block, decides nothing] "
            "(reason unresolved | expired | other-client; counts egress_would_block)");
}

TEST_F(RuleChainTest, OffMeansNoEgressChain) {
  build("[egress]\nmode = \"off\"\n");
  EXPECT_TRUE(rules_->empty());
  EXPECT_TRUE(rules_->chains().empty());
  EXPECT_TRUE(eval("10.0.0.10", "203.0.113.101", 443).empty());
}

constexpr const char* kUserRules = R"(
[dns]
resolvers = ["10.0.0.53"]
[egress]
mode = "enforce"

[zones.iot]
cidrs = ["10.0.50.0/24"]

[[rule]]
name = "tls-seen"
match = { port = 443 }
action = "alert"

[[rule]]
name = "bad-net"
match = { dst = "198.51.100.0/24" }
action = "drop"

[[rule]]
name = "ntp"
match = { proto = "udp", port = 123 }
action = "accept"

[[rule]]
name = "iot-dns-gated"
match = { src_zone = "iot", direction = "outbound", not = { resolved = "client" } }
action = "reject"

[[rule]]
name = "iot-would"
match = { src_zone = "iot" }
action = "drop"
monitor = true

[[rule]]
name = "lan"
match = { direction = "internal", port = 22 }
action = "return"
)";

TEST_F(RuleChainTest, UserRulesRunFirstInOrderAndTheFirstTerminalDecides) {
  build(kUserRules);
  ASSERT_EQ(rules_->chains().size(), 2u);
  EXPECT_EQ(rules_->chains()[0].name, "rules");
  EXPECT_EQ(rules_->rule_count(), 6u + 4u);
  // Always refused, whatever DNS says; the alert rule before it is noted too.
  resolve("10.0.0.10", "198.51.100.7");
  EXPECT_EQ(eval("10.0.0.10", "198.51.100.7", 443), (V{"tls-seen", "bad-net!"}));
  EXPECT_EQ(eval("10.0.0.10", "198.51.100.7", 80), V{"bad-net!"});
  // A port that skips the DNS check.
  EXPECT_EQ(eval("10.0.0.10", "203.0.113.9", 123, 17), V{"ntp!"});
  EXPECT_EQ(eval("10.0.0.10", "203.0.113.9", 123, 6), V{"egress.unresolved!"});
  // iot: unresolved destinations rejected by the user rule, before the egress chain.
  EXPECT_EQ(eval("10.0.50.3", "203.0.113.9", 443), (V{"tls-seen", "iot-dns-gated!"}));
  resolve("10.0.50.3", "203.0.113.10");
  EXPECT_EQ(eval("10.0.50.3", "203.0.113.10", 443), (V{"tls-seen", "iot-would", "egress.dns!"}));
  // return: leave every chain undecided.
  EXPECT_EQ(eval("10.0.0.10", "10.0.0.20", 22), V{"lan!"});
  EXPECT_EQ(eval("10.0.0.10", "10.0.0.20", 23), V{"egress.not-outbound!"});
}

TEST_F(RuleChainTest, UserRulesPrintThemselves) {
  build(kUserRules);
  V lines = rule_lines();
  EXPECT_EQ(lines[0], "tls-seen: port 443 -> alert (reason rule:tls-seen)");
  EXPECT_EQ(lines[1], "bad-net: dst 198.51.100.0/24 -> drop (reason rule:bad-net)");
  EXPECT_EQ(lines[2], "ntp: proto udp and port 123 -> accept (reason rule:ntp)");
  EXPECT_EQ(lines[3],
            "iot-dns-gated: src_zone iot and direction outbound and not resolved client -> "
            "reject (reason rule:iot-dns-gated)");
  EXPECT_EQ(lines[4],
            "iot-would: src_zone iot -> drop [monitor: alert would_block, decides nothing] "
            "(reason rule:iot-would)");
  EXPECT_EQ(lines[5], "lan: direction internal and port 22 -> return");
  std::string text = rules_->to_string();
  EXPECT_NE(text.find("chain rules"), std::string::npos) << text;
  EXPECT_NE(text.find("chain egress"), std::string::npos) << text;
  EXPECT_NE(text.find("zone iot: 10.0.50.0/24"), std::string::npos) << text;
  EXPECT_LT(text.find("bad-net"), text.find("egress.dns")) << text;
}

TEST_F(RuleChainTest, UserRulesWithoutEgress) {
  build(R"(
[[rule]]
name = "no-telnet"
match = { proto = "tcp", port = 23 }
action = ["alert", "capture", "reject"]
)");
  ASSERT_EQ(rules_->chains().size(), 1u);
  EXPECT_EQ(eval("203.0.113.1", "10.0.0.10", 23), V{"no-telnet!"});
  EXPECT_TRUE(eval("10.0.0.10", "203.0.113.1", 22).empty());
  // Capture without [capture] dir is noted (check prints it).
  ASSERT_EQ(rules_->warnings().size(), 1u);
  EXPECT_NE(rules_->warnings()[0].find("capture"), std::string::npos);
}

TEST_F(RuleChainTest, DomainListsComeFromFiles) {
  auto dir = std::filesystem::temp_directory_path() / "tripline-rule-chain-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "trackers.txt") << "# trackers\ntracker.example\n||ads.example^\n";
  std::string toml = R"(
[dns]
resolvers = ["10.0.0.53"]
[[rule]]
name = "trackers"
match = { domain_list = "trackers.txt" }
action = "drop"
)";
  Config cfg = Config::load_string(toml, (dir / "r.toml").string());
  auto rules = build_rule_set(cfg, InterfaceNames::Ignore);
  FlowFacts facts(cfg.network.inside, &cache_);
  std::vector<std::string> chain{"cdn.ads.example"};
  cache_.insert(ip("10.0.0.10"), ip("203.0.113.50"), chain, 300, now_);
  Flow f = make_flow("10.0.0.10", 1, "203.0.113.50", 443, 6);
  facts.reset(f, kNoPacketMeta, now_);
  RuleEvaluation out;
  rules->evaluate(facts, out);
  ASSERT_NE(out.decided_by, nullptr);
  EXPECT_EQ(out.decided_by->name, "trackers");
  EXPECT_EQ(out.decided_by->to_string(), "trackers: domain_list " +
                                             (dir / "trackers.txt").string() +
                                             " -> drop (reason rule:trackers)");
  std::filesystem::remove_all(dir);
  // A list that cannot be read names the rule's line and key.
  EXPECT_PREFIX(error_of("[[rule]]\nname = \"x\"\nmatch = { domain_list = \"/nonexistent/l.txt\" "
                         "}\naction = \"drop\"\n"),
                "r.toml:3: rule[x].match.domain_list:");
  EXPECT_PREFIX(
      error_of("[[rule]]\nname = \"x\"\nmatch = { domain = \"a..b\" }\naction = \"drop\"\n"),
      "r.toml:3: rule[x].match.domain:");
}

TEST(RuleChainInterfaces, ResolvedLiveReportedByCheckIgnoredInReplay) {
  const std::string lo =
      "[zones.local]\ninterfaces = [\"lo\"]\n"
      "[[rule]]\nname = \"x\"\nmatch = { src_zone = \"local\" }\naction = "
      "\"drop\"\n";
  auto live = build_rule_set(Config::load_string(lo, "r.toml"), InterfaceNames::Resolve);
  ASSERT_EQ(live->zones().size(), 1u);
  EXPECT_EQ(live->zones()[0]->ifindexes, std::vector<uint32_t>{if_nametoindex("lo")});
  auto replay = build_rule_set(Config::load_string(lo, "r.toml"), InterfaceNames::Ignore);
  EXPECT_TRUE(replay->zones()[0]->ifindexes.empty());

  const std::string missing = "[zones.wan]\ncidrs = [\"0.0.0.0/0\"]\ninterfaces = [\"tl-nope0\"]\n";
  EXPECT_PREFIX(error_of(missing, InterfaceNames::Resolve), "r.toml:3: zones.wan.interfaces:");
  auto check = build_rule_set(Config::load_string(missing, "r.toml"), InterfaceNames::Report);
  ASSERT_EQ(check->warnings().size(), 1u);
  EXPECT_NE(check->warnings()[0].find("tl-nope0"), std::string::npos);
}

// The shipped example stays valid, and its chains say what its comments say.
TEST(RuleChainExample, ContribGatewayRulesBuild) {
  Config cfg =
      Config::load_file(std::string(TRIPLINE_SOURCE_DIR) + "/contrib/examples/gateway-rules.toml");
  auto rules = build_rule_set(cfg, InterfaceNames::Ignore);
  ASSERT_EQ(rules->chains().size(), 2u);
  EXPECT_EQ(rules->chains()[0].rules.size(), cfg.rules.size());
  FlowFacts facts(cfg.network.inside, nullptr);
  RuleEvaluation out;
  auto decided = [&](const char* src, const char* dst, uint16_t dport, uint8_t proto) {
    Flow f = make_flow(src, 40000, dst, dport, proto);
    facts.reset(f, kNoPacketMeta, 0);
    rules->evaluate(facts, out);
    return out.decided_by ? out.decided_by->name : std::string("-");
  };
  EXPECT_EQ(decided("192.168.1.20", "198.51.100.9", 443, 6), "never-bad-net");
  EXPECT_EQ(decided("192.168.1.20", "203.0.113.123", 123, 17), "ntp");
  EXPECT_EQ(decided("192.168.50.7", "192.168.1.20", 80, 6), "iot-no-lan");
  EXPECT_EQ(decided("192.168.50.7", "192.168.1.1", 53, 17), "egress.not-outbound");
  // Replay knows no interfaces: "wan" (eth0 only) never matches there.
  EXPECT_EQ(decided("192.168.50.7", "203.0.113.80", 443, 6), "egress.unresolved");
  EXPECT_EQ(decided("192.168.1.20", "203.0.113.10", 443, 6), "egress.allow");
}

// `tripline bench`: each chain's evaluation is charged to its own stage
// (the user's rules to rule_chain, [egress] to egress); a chain not reached
// is not entered.
TEST(RuleChainProfile, EachChainChargesItsStage) {
  Config cfg = Config::load_string(R"(
[egress]
mode = "enforce"
[[rule]]
name = "no-telnet"
match = { port = 23 }
action = "drop"
)",
                                   "r.toml");
  auto rules = build_rule_set(cfg, InterfaceNames::Ignore);
  ASSERT_EQ(rules->chains().size(), 2u);
  EXPECT_EQ(rules->chains()[0].profile, ProfileStage::RuleChain);
  EXPECT_EQ(rules->chains()[1].profile, ProfileStage::Egress);
  EXPECT_EQ(rules->chains()[1].rules.back().profile, ProfileStage::Egress);
  FlowFacts facts(cfg.network.inside, nullptr);
  RuleEvaluation out;
  StageProfile p;
  p.start(ProfileStage::Worker);
  Flow web = make_flow("10.0.0.10", 40000, "203.0.113.1", 443, 6);
  facts.reset(web, kNoPacketMeta, 0);
  rules->evaluate(facts, out, &p);  // through both chains: egress decides
  ASSERT_NE(out.decided_by, nullptr);
  EXPECT_EQ(out.decided_by->name, "egress.unresolved");
  EXPECT_EQ(p.entries(ProfileStage::RuleChain), 1u);
  EXPECT_EQ(p.entries(ProfileStage::Egress), 1u);
  Flow telnet = make_flow("10.0.0.10", 40001, "203.0.113.1", 23, 6);
  facts.reset(telnet, kNoPacketMeta, 0);
  rules->evaluate(facts, out, &p);  // the user's rule decides: egress not reached
  EXPECT_EQ(out.decided_by->name, "no-telnet");
  EXPECT_EQ(p.entries(ProfileStage::RuleChain), 2u);
  EXPECT_EQ(p.entries(ProfileStage::Egress), 1u);
  rules->evaluate(facts, out);  // no profile: nothing charged
  EXPECT_EQ(p.entries(ProfileStage::RuleChain), 2u);
}

// The stage: per-rule counters, decisions and reasons through a worker.
class RuleStageTest : public ::testing::Test {
 protected:
  void start(const char* toml) {
    cfg_ = std::make_shared<Config>(Config::load_string(toml, "<test>"));
    pipeline_ = std::make_unique<Pipeline>(cfg_, Pipeline::Mode::Replay);
    worker_ = std::make_unique<Worker>(cfg_, 0, nullptr);
    pipeline_->stage_factory()(*worker_);
  }
  Decision feed(const craft::Bytes& packet, PacketMeta meta = {}) {
    now_ += kNsPerSec / 100;
    return worker_->process(LinkType::Raw, packet, now_, meta);
  }
  uint64_t counter(const std::string& name) const {
    CounterSnapshot snap;
    snap.add(worker_->counters());
    for (const auto& [n, v] : snap.named)
      if (n == name) return v;
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  std::shared_ptr<Config> cfg_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<Worker> worker_;
  Timestamp now_ = 1767225600 * kNsPerSec;
};

TEST_F(RuleStageTest, DecidesNewFlowsAndCountsPerRule) {
  start(R"(
[dns]
resolvers = ["10.0.0.53"]
[egress]
mode = "enforce"
action = "reject"
[[rule]]
name = "bad-net"
match = { dst = "198.51.100.0/24" }
action = "drop"
[[rule]]
name = "ntp"
match = { proto = "udp", port = 123 }
action = "accept"
)");
  auto cli = ip("10.0.0.10");
  Decision d = feed(craft::tcp(cli, 40000, ip("198.51.100.7"), 443, 0x02, 1, 0, {}));
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "rule:bad-net");
  // Later packets of the flow keep the decision without a new evaluation.
  d = feed(craft::tcp(cli, 40000, ip("198.51.100.7"), 443, 0x02, 1, 0, {}));
  EXPECT_EQ(d.verdict, Verdict::Drop);
  d = feed(craft::udp(cli, 40001, ip("203.0.113.9"), 123, craft::Bytes{1, 2, 3}));
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.reason, "rule:ntp");
  EXPECT_FALSE(d.has_mark);
  d = feed(craft::tcp(cli, 40002, ip("203.0.113.9"), 443, 0x02, 1, 0, {}));
  EXPECT_EQ(d.verdict, Verdict::Reject);
  EXPECT_EQ(d.reason, "unresolved");
  EXPECT_TRUE(d.has_mark);
  d = feed(craft::tcp(ip("203.0.113.9"), 40003, cli, 22, 0x02, 1, 0, {}));
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.reason, "default");

  EXPECT_EQ(counter("rule.bad-net"), 1u);
  EXPECT_EQ(counter("rule.ntp"), 1u);
  EXPECT_EQ(counter("rule.egress.unresolved"), 1u);
  EXPECT_EQ(counter("rule.egress.not-outbound"), 1u);
  EXPECT_EQ(counter("rule.egress.dns"), 0u);
  EXPECT_EQ(worker_->counters().egress_blocked.get(), 1u);
  EXPECT_EQ(worker_->counters().egress_allowed.get(), 0u);
}

TEST_F(RuleStageTest, ZonesMatchTheInterfacesLivePacketsCarry) {
  start(R"(
[zones.local]
interfaces = ["lo"]
[[rule]]
name = "from-local"
match = { src_zone = "local" }
action = "drop"
)");
  // Replay builds zones without interfaces; a live pipeline resolves them.
  pipeline_.reset();
  worker_ = std::make_unique<Worker>(cfg_, 0, nullptr);
  auto rules = build_rule_set(*cfg_, InterfaceNames::Resolve);
  worker_->add_stage(std::make_unique<PolicyStage>(*cfg_, *rules, nullptr, worker_->env()));
  PacketMeta on_lo{if_nametoindex("lo"), 0};
  Decision d =
      feed(craft::tcp(ip("10.0.0.10"), 40000, ip("203.0.113.1"), 443, 0x02, 1, 0, {}), on_lo);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  d = feed(craft::tcp(ip("10.0.0.10"), 40001, ip("203.0.113.1"), 443, 0x02, 1, 0, {}));
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(counter("rule.from-local"), 1u);
  worker_.reset();
}

}  // namespace
}  // namespace tripline
