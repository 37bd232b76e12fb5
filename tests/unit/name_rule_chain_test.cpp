#include "name_rule_chain.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "domain_set.h"

namespace tripline {
namespace {

std::shared_ptr<const DomainSet> set_of(DomainListKind kind, std::string_view prefix,
                                        std::vector<std::pair<const char*, const char*>> files) {
  auto set = std::make_shared<DomainSet>(kind);
  for (const auto& [file, text] : files) {
    DomainListReport report;
    set->load_text(text, file, prefix, report);
  }
  return set;
}

// The default chain's shape: allow lists first, then block lists.
class NameRuleChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    allow_ = set_of(DomainListKind::Allow, "allowlist", {{"/etc/a.txt", "ok.ads.example\n"}});
    block_ = set_of(DomainListKind::Block, "blocklist",
                    {{"/etc/first.txt", "ads.example\ncdn.example\n"},
                     {"/etc/second.txt", "tracker.example\ncdn.example\n"}});
    chain_.add("dns.allow", NameSelector(allow_), NameAction::Allow);
    chain_.add("dns.block", NameSelector(block_), NameAction::Block);
  }
  NameVerdict run(std::vector<std::string> names) {
    names_ = std::move(names);
    return chain_.evaluate(names_);
  }

  std::shared_ptr<const DomainSet> allow_, block_;
  NameRuleChain chain_{"dns", "[dns] block_lists/allow_lists, on trusted answers"};
  std::vector<std::string> names_;
};

TEST_F(NameRuleChainTest, NoMatchIsNotBlocked) {
  NameVerdict v = run({"www.example", "edge.example.net"});
  EXPECT_EQ(v.rule, nullptr);
  EXPECT_FALSE(v.blocked());
  EXPECT_FALSE(run({}).blocked());
}

TEST_F(NameRuleChainTest, BlockedNameBlocksWithItsListLabel) {
  NameVerdict v = run({"x.ads.example"});
  ASSERT_NE(v.rule, nullptr);
  EXPECT_EQ(v.rule->name, "dns.block");
  EXPECT_EQ(v.rule->index, 1u);
  EXPECT_TRUE(v.blocked());
  EXPECT_EQ(v.label, "blocklist:first.txt");
  EXPECT_EQ(run({"a.tracker.example"}).label, "blocklist:second.txt");
  // A name in both lists belongs to the first list that named it.
  EXPECT_EQ(run({"cdn.example"}).label, "blocklist:first.txt");
}

// Anywhere on the CNAME chain: an allowed name wins over a blocked one, even
// when the blocked one comes first.
TEST_F(NameRuleChainTest, AllowBeatsBlockAcrossTheChain) {
  NameVerdict v = run({"www.ads.example", "ok.ads.example"});
  ASSERT_NE(v.rule, nullptr);
  EXPECT_EQ(v.rule->name, "dns.allow");
  EXPECT_FALSE(v.blocked());
  EXPECT_EQ(v.label, "allowlist:a.txt");
  // Allowed itself (a subdomain of an allowed name), though under a blocked one.
  EXPECT_FALSE(run({"deep.ok.ads.example"}).blocked());
}

// The first name on the chain (question first, then each CNAME target) that
// a block list holds gives the label.
TEST_F(NameRuleChainTest, FirstBlockedNameOnTheChainGivesTheLabel) {
  EXPECT_EQ(run({"www.example", "t.tracker.example", "ads.example"}).label, "blocklist:second.txt");
  EXPECT_EQ(run({"ads.example", "t.tracker.example"}).label, "blocklist:first.txt");
}

// Rules run in the order added: a block rule before an allow rule wins.
TEST_F(NameRuleChainTest, OrderDecides) {
  NameRuleChain chain("dns", "");
  chain.add("first", NameSelector(block_), NameAction::Block);
  chain.add("second", NameSelector(allow_), NameAction::Allow);
  names_ = {"ok.ads.example"};
  NameVerdict v = chain.evaluate(names_);
  ASSERT_NE(v.rule, nullptr);
  EXPECT_EQ(v.rule->name, "first");
  EXPECT_TRUE(v.blocked());
  EXPECT_EQ(v.label, "blocklist:first.txt");
}

TEST_F(NameRuleChainTest, PrintsItself) {
  EXPECT_EQ(chain_.rules()[0].selector.to_string(), "name in allowlist:a.txt");
  EXPECT_EQ(chain_.rules()[1].selector.to_string(),
            "name in [blocklist:first.txt, blocklist:second.txt]");
  EXPECT_EQ(chain_.rules()[1].to_string(),
            "dns.block: name in [blocklist:first.txt, "
            "blocklist:second.txt] -> block");
  EXPECT_EQ(chain_.to_string("null"),
            "  chain dns ([dns] block_lists/allow_lists, on trusted answers):\n"
            "     1. dns.allow: name in allowlist:a.txt -> allow\n"
            "     2. dns.block: name in [blocklist:first.txt, blocklist:second.txt] -> block "
            "(null)\n");
  EXPECT_EQ(NameSelector(allow_, "domain example.com").to_string(), "name in domain example.com");
}

}  // namespace
}  // namespace tripline
