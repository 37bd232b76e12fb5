#include "selectors.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy_test_util.h"

namespace tripline {
namespace {

using policy_test::ip;
using policy_test::make_flow;

CidrSet cidrs(std::initializer_list<const char*> list) {
  CidrSet set;
  for (const char* c : list) set.add(*Cidr::parse(c));
  return set;
}

class SelectorTest : public ::testing::Test {
 protected:
  SelectorTest() : inside_(cidrs({"10.0.0.0/8", "fd00::/8"})), cache_(DnsCacheConfig{}) {}

  // Matches selector s against a flow src:sport -> dst:dport.
  bool match(const Selector& s, const char* src, uint16_t sport, const char* dst, uint16_t dport,
             uint8_t proto = 6, PacketMeta meta = {}) {
    flow_ = make_flow(src, sport, dst, dport, proto);
    facts_.reset(flow_, meta, now_);
    return s.matches(facts_);
  }
  void resolve(const char* client, const char* addr, std::string name) {
    std::vector<std::string> chain{std::move(name)};
    cache_.insert(ip(client), ip(addr), chain, 300, now_);
  }

  CidrSet inside_;
  DnsCache cache_;
  FlowFacts facts_{inside_, &cache_};
  Flow flow_;
  Timestamp now_ = 1767225600 * kNsPerSec;
};

TEST_F(SelectorTest, Addresses) {
  auto dst = select_dst(cidrs({"198.51.100.0/24", "2001:db8::1"}));
  EXPECT_TRUE(match(*dst, "10.0.0.1", 1000, "198.51.100.7", 443));
  EXPECT_TRUE(match(*dst, "fd00::1", 1000, "2001:db8::1", 443));
  EXPECT_FALSE(match(*dst, "198.51.100.7", 1000, "10.0.0.1", 443));
  EXPECT_EQ(dst->to_string(), "dst [198.51.100.0/24, 2001:db8::1]");
  auto src = select_src(cidrs({"10.1.0.0/16"}));
  EXPECT_TRUE(match(*src, "10.1.2.3", 1000, "203.0.113.1", 443));
  EXPECT_FALSE(match(*src, "10.2.2.3", 1000, "10.1.0.1", 443));
  EXPECT_EQ(src->to_string(), "src 10.1.0.0/16");
}

TEST_F(SelectorTest, PortsOnlyForTcpAndUdp) {
  auto port = select_port({{443, 443}, {8000, 8100}});
  EXPECT_TRUE(match(*port, "10.0.0.1", 1000, "203.0.113.1", 443, 6));
  EXPECT_TRUE(match(*port, "10.0.0.1", 1000, "203.0.113.1", 8050, 17));
  EXPECT_TRUE(match(*port, "10.0.0.1", 1000, "203.0.113.1", 8100, 17));
  EXPECT_FALSE(match(*port, "10.0.0.1", 1000, "203.0.113.1", 8101, 17));
  EXPECT_FALSE(match(*port, "10.0.0.1", 443, "203.0.113.1", 80, 6));
  EXPECT_FALSE(match(*port, "10.0.0.1", 8, "203.0.113.1", 443, 1));  // ICMP type/code
  EXPECT_EQ(port->to_string(), "port [443, 8000-8100]");
  auto sport = select_src_port({{53, 53}});
  EXPECT_TRUE(match(*sport, "10.0.0.53", 53, "10.0.0.1", 4000, 17));
  EXPECT_FALSE(match(*sport, "10.0.0.1", 4000, "10.0.0.53", 53, 17));
  EXPECT_EQ(sport->to_string(), "src_port 53");
}

TEST_F(SelectorTest, Proto) {
  auto proto = select_proto({17, 58});
  EXPECT_TRUE(match(*proto, "10.0.0.1", 1, "10.0.0.2", 2, 17));
  EXPECT_TRUE(match(*proto, "fd00::1", 128, "fd00::2", 0, 58));
  EXPECT_FALSE(match(*proto, "10.0.0.1", 1, "10.0.0.2", 2, 6));
  EXPECT_EQ(proto->to_string(), "proto [udp, icmpv6]");
  EXPECT_EQ(select_proto({99})->to_string(), "proto 99");
}

TEST_F(SelectorTest, Direction) {
  auto out = select_direction({FlowDirection::Outbound});
  auto in = select_direction({FlowDirection::Inbound});
  auto internal = select_direction({FlowDirection::Internal, FlowDirection::External});
  EXPECT_TRUE(match(*out, "10.0.0.1", 1, "203.0.113.1", 2));
  EXPECT_FALSE(match(*out, "203.0.113.1", 1, "10.0.0.1", 2));
  EXPECT_TRUE(match(*in, "203.0.113.1", 1, "10.0.0.1", 2));
  EXPECT_TRUE(match(*internal, "10.0.0.1", 1, "10.0.0.2", 2));
  EXPECT_TRUE(match(*internal, "192.0.2.1", 1, "203.0.113.1", 2));
  EXPECT_FALSE(match(*internal, "fd00::1", 1, "2001:db8::1", 2));
  EXPECT_EQ(out->to_string(), "direction outbound");
  EXPECT_EQ(internal->to_string(), "direction [internal, external]");
}

TEST_F(SelectorTest, ZonesByAddressAndInterface) {
  auto iot = std::make_shared<Zone>();
  iot->name = "iot";
  iot->cidrs = cidrs({"10.0.50.0/24"});
  iot->interfaces = {"wlan1"};
  iot->ifindexes = {7};
  auto wan = std::make_shared<Zone>();
  wan->name = "wan";
  wan->interfaces = {"eth0"};
  wan->ifindexes = {2};
  auto src = select_src_zone({iot});
  auto dst = select_dst_zone({wan, iot});
  EXPECT_TRUE(match(*src, "10.0.50.3", 1, "203.0.113.1", 2));
  EXPECT_FALSE(match(*src, "10.0.60.3", 1, "203.0.113.1", 2));
  // By the interface the first packet came in on (live), whatever the address.
  EXPECT_TRUE(match(*src, "10.0.60.3", 1, "203.0.113.1", 2, 6, PacketMeta{7, 2}));
  EXPECT_FALSE(match(*src, "10.0.60.3", 1, "203.0.113.1", 2, 6, PacketMeta{2, 7}));
  // Destination zone: the interface the packet goes out on.
  EXPECT_TRUE(match(*dst, "10.0.60.3", 1, "203.0.113.1", 2, 6, PacketMeta{7, 2}));
  EXPECT_FALSE(match(*dst, "10.0.60.3", 1, "203.0.113.1", 2, 6, PacketMeta{2, 0}));
  EXPECT_TRUE(match(*dst, "203.0.113.1", 1, "10.0.50.9", 2));
  EXPECT_EQ(src->to_string(), "src_zone iot");
  EXPECT_EQ(dst->to_string(), "dst_zone [wan, iot]");
}

TEST_F(SelectorTest, ResolvedAndDomainLookUpOnce) {
  resolve("10.0.0.1", "203.0.113.5", "www.example.com");
  auto client = select_resolved(ResolvedBy::Client);
  auto anyone = select_resolved(ResolvedBy::Anyone);
  EXPECT_TRUE(match(*client, "10.0.0.1", 1, "203.0.113.5", 443));
  EXPECT_FALSE(match(*client, "10.0.0.2", 1, "203.0.113.5", 443));  // another client's answer
  EXPECT_TRUE(match(*anyone, "10.0.0.2", 1, "203.0.113.5", 443));
  EXPECT_FALSE(match(*anyone, "10.0.0.2", 1, "203.0.113.6", 443));
  EXPECT_EQ(client->to_string(), "resolved client");
  EXPECT_EQ(anyone->to_string(), "resolved anyone");

  auto set = std::make_shared<DomainSet>();
  set->add("example.com", "domain");
  auto domain = select_domain(set, "domain example.com");
  EXPECT_TRUE(match(*domain, "10.0.0.1", 1, "203.0.113.5", 443));
  EXPECT_TRUE(
      match(*domain, "10.0.0.2", 1, "203.0.113.5", 443));  // the address is known by that name
  EXPECT_FALSE(match(*domain, "10.0.0.1", 1, "203.0.113.6", 443));
  EXPECT_EQ(domain->to_string(), "domain example.com");

  // One lookup per flow evaluation, however many selectors ask; none when
  // nobody asks.
  std::vector<SelectorPtr> both;
  both.push_back(select_resolved(ResolvedBy::Client));
  both.push_back(select_domain(set, "domain example.com"));
  auto all = select_and(std::move(both));
  uint64_t before = facts_.lookups();
  EXPECT_TRUE(match(*all, "10.0.0.1", 1, "203.0.113.5", 443));
  EXPECT_EQ(facts_.lookups(), before + 1);
  EXPECT_TRUE(match(*select_port({{443, 443}}), "10.0.0.1", 1, "203.0.113.5", 443));
  EXPECT_EQ(facts_.lookups(), before + 1);
  EXPECT_FALSE(facts_.looked_up());
}

TEST_F(SelectorTest, NoCacheMeansUnresolved) {
  FlowFacts facts(inside_, nullptr);
  Flow f = make_flow("10.0.0.1", 1, "203.0.113.5", 443, 6);
  facts.reset(f, kNoPacketMeta, now_);
  EXPECT_FALSE(select_resolved(ResolvedBy::Anyone)->matches(facts));
  EXPECT_EQ(facts.dns().status, DnsLookupStatus::Unknown);
}

TEST_F(SelectorTest, AndOrNotComposeAndPrint) {
  std::vector<SelectorPtr> any;
  any.push_back(select_port({{80, 80}}));
  any.push_back(select_port({{443, 443}}));
  std::vector<SelectorPtr> all;
  all.push_back(select_proto({6}));
  all.push_back(select_or(std::move(any)));
  all.push_back(select_not(select_dst(cidrs({"203.0.113.0/24"}))));
  auto s = select_and(std::move(all));
  EXPECT_TRUE(match(*s, "10.0.0.1", 1, "198.51.100.1", 443));
  EXPECT_TRUE(match(*s, "10.0.0.1", 1, "198.51.100.1", 80));
  EXPECT_FALSE(match(*s, "10.0.0.1", 1, "198.51.100.1", 22));
  EXPECT_FALSE(match(*s, "10.0.0.1", 1, "203.0.113.1", 443));
  EXPECT_FALSE(match(*s, "10.0.0.1", 1, "198.51.100.1", 443, 17));
  EXPECT_EQ(s->to_string(), "proto tcp and (port 80 or port 443) and not dst 203.0.113.0/24");

  std::vector<SelectorPtr> inner;
  inner.push_back(select_proto({17}));
  inner.push_back(select_port({{53, 53}}));
  auto n = select_not(select_and(std::move(inner)));
  EXPECT_EQ(n->to_string(), "not (proto udp and port 53)");
  EXPECT_TRUE(match(*n, "10.0.0.1", 1, "10.0.0.53", 53, 6));
  EXPECT_FALSE(match(*n, "10.0.0.1", 1, "10.0.0.53", 53, 17));
  EXPECT_EQ(select_all()->to_string(), "all");
}

TEST_F(SelectorTest, DnsSelectorsRunLastInAComposite) {
  resolve("10.0.0.1", "203.0.113.5", "www.example.com");
  std::vector<SelectorPtr> all;
  all.push_back(select_resolved(ResolvedBy::Client));
  all.push_back(select_port({{443, 443}}));
  auto s = select_and(std::move(all));
  EXPECT_EQ(s->to_string(), "port 443 and resolved client");
  EXPECT_TRUE(s->uses_dns());
  uint64_t before = facts_.lookups();
  EXPECT_FALSE(match(*s, "10.0.0.1", 1, "203.0.113.5", 80));  // decided by the port: no lookup
  EXPECT_EQ(facts_.lookups(), before);
  EXPECT_TRUE(match(*s, "10.0.0.1", 1, "203.0.113.5", 443));
  EXPECT_EQ(facts_.lookups(), before + 1);
}

}  // namespace
}  // namespace tripline
