#include "host_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "dns_cache.h"
#include "dns_state_file.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
MacAddr mac(const char* s) { return *MacAddr::parse(s); }
OnLinkPrefix prefix(const char* net, uint8_t len, uint32_t ifindex = 0) {
  return OnLinkPrefix{ip(net), len, ifindex};
}

const MacAddr kLaptop = mac("02:00:00:00:0a:01");
const MacAddr kPhone = mac("02:00:00:00:0b:01");
const MacAddr kRouter = mac("02:00:00:00:00:fe");

TEST(ClientId, ParsesAndPrintsAddressesAndHosts) {
  EXPECT_EQ(mac("02:AB:cd:00:0a:01").to_string(), "02:ab:cd:00:0a:01");
  EXPECT_FALSE(MacAddr::parse("02:ab:cd:00:0a"));
  EXPECT_FALSE(MacAddr::parse("02:ab:cd:00:0a:0g"));
  EXPECT_FALSE(MacAddr::parse("02-ab-cd-00-0a-01"));
  EXPECT_FALSE(MacAddr{}.known());
  auto h = ClientId::parse("02:00:00:00:0a:01");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->is_host());
  EXPECT_EQ(h->to_string(), "02:00:00:00:0a:01");
  auto a = ClientId::parse("fd00::10");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, ClientId::Kind::Address);
  EXPECT_EQ(a->to_string(), "fd00::10");
  EXPECT_FALSE(ClientId::parse("00:00:00:00:00:00"));  // no host has the zero address
  EXPECT_TRUE(ClientId::address(IpAddr{}).none());
  EXPECT_TRUE(ClientId::host(MacAddr{}).none());
  EXPECT_NE(ClientId::host(kLaptop), ClientId::host(kPhone));
}

TEST(HostTable, OnLinkSourcesAreTheirPacketsHost) {
  HostTable t(HostTableConfig{});
  OnLinkPrefix p[] = {prefix("10.0.0.0", 24, 3), prefix("fd00::", 64, 3)};
  t.set_prefixes(p);
  // A rotated temporary address no neighbour entry knows yet: the packet's MAC.
  EXPECT_EQ(t.identify(ip("fd00::7e57:1"), kLaptop, 3), ClientId::host(kLaptop));
  EXPECT_EQ(t.identify(ip("10.0.0.10"), kLaptop, 0), ClientId::host(kLaptop));
  // Routed clients (not on-link): their packets carry the router's MAC.
  EXPECT_EQ(t.identify(ip("10.0.5.7"), kRouter, 3), ClientId::address(ip("10.0.5.7")));
  // On another interface than the prefix's: not on-link there.
  EXPECT_EQ(t.identify(ip("10.0.0.10"), kLaptop, 4), ClientId::address(ip("10.0.0.10")));
  // No link-layer address at all: the address.
  EXPECT_EQ(t.identify(ip("10.0.0.10"), MacAddr{}, 3), ClientId::address(ip("10.0.0.10")));
  auto st = t.stats();
  EXPECT_EQ(st.by_packet, 2u);
  EXPECT_EQ(st.by_address, 3u);
}

TEST(HostTable, NeighbourTableRelatesAddressesOfOneHost) {
  HostTable t(HostTableConfig{});
  t.set(ip("10.0.0.10"), kLaptop, 3);
  t.set(ip("fd00::10"), kLaptop, 3);
  t.set(ip("10.0.0.20"), kPhone, 3);
  // No prefixes, no MAC in the packet: the neighbour table alone knows the host.
  EXPECT_EQ(t.identify(ip("10.0.0.10"), MacAddr{}, 0), ClientId::host(kLaptop));
  EXPECT_EQ(t.identify(ip("fd00::10"), MacAddr{}, 0), ClientId::host(kLaptop));
  EXPECT_EQ(t.identify(ip("10.0.0.20"), MacAddr{}, 0), ClientId::host(kPhone));
  EXPECT_EQ(t.find(ip("fd00::10")), kLaptop);
  // Removed on another interface: another entry, kept.
  t.remove(ip("fd00::10"), 4);
  EXPECT_TRUE(t.find(ip("fd00::10")));
  t.remove(ip("fd00::10"), 3);
  EXPECT_FALSE(t.find(ip("fd00::10")));
  EXPECT_EQ(t.identify(ip("fd00::10"), MacAddr{}, 0), ClientId::address(ip("fd00::10")));
  EXPECT_EQ(t.size(), 2u);
}

TEST(HostTable, AddressModeIgnoresHosts) {
  HostTableConfig c;
  c.by_host = false;
  HostTable t(c);
  t.set(ip("10.0.0.10"), kLaptop, 3);
  OnLinkPrefix p[] = {prefix("10.0.0.0", 24)};
  t.set_prefixes(p);
  EXPECT_EQ(t.identify(ip("10.0.0.10"), kLaptop, 3), ClientId::address(ip("10.0.0.10")));
}

TEST(HostTable, ReplayTakesEveryEthernetSourceAsAHost) {
  HostTableConfig c;
  c.all_on_link = true;
  HostTable t(c);
  EXPECT_EQ(t.identify(ip("198.51.100.7"), kPhone, 0), ClientId::host(kPhone));
}

TEST(HostTable, IsBounded) {
  HostTableConfig c;
  c.max_entries = 32;
  HostTable t(c);
  for (uint32_t i = 0; i < 1000; ++i) {
    uint8_t b[4] = {10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    t.set(IpAddr::v4(b), kLaptop, 1);
  }
  EXPECT_LE(t.size(), 32u + HostTable::kShards);  // ceil(max / shards) per shard
  EXPECT_GT(t.stats().full, 900u);
}

TEST(HostTable, PrefixMatchingIsByBits) {
  EXPECT_TRUE(prefix("10.0.0.0", 22).contains(ip("10.0.3.255")));
  EXPECT_FALSE(prefix("10.0.0.0", 22).contains(ip("10.0.4.0")));
  EXPECT_FALSE(prefix("10.0.0.0", 8).contains(ip("::ffff:10.0.0.1")));
  EXPECT_TRUE(prefix("fe80::", 64).contains(ip("fe80::1")));
  EXPECT_TRUE(prefix("0.0.0.0", 0).contains(ip("192.0.2.1")));
}

// Workers read while the monitor thread writes (run under TSan too).
TEST(HostTable, ConcurrentReadsAndUpdates) {
  HostTable t(HostTableConfig{});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint32_t i = 0; i < 20000; ++i) {
      uint8_t b[4] = {10, 0, static_cast<uint8_t>(i >> 8 & 3), static_cast<uint8_t>(i)};
      if (i % 3 == 0)
        t.remove(IpAddr::v4(b), 1);
      else
        t.set(IpAddr::v4(b), i % 2 ? kLaptop : kPhone, 1);
      if (i % 1000 == 0) {
        OnLinkPrefix p[] = {prefix("10.0.0.0", 22, 1)};
        t.set_prefixes(p);
      }
    }
    stop = true;
  });
  uint64_t hosts = 0;
  for (uint32_t i = 0; !stop || i < 1000; ++i) {
    uint8_t b[4] = {10, 0, static_cast<uint8_t>(i >> 8 & 3), static_cast<uint8_t>(i)};
    hosts += t.identify(IpAddr::v4(b), kRouter, 1).is_host();
  }
  writer.join();
  EXPECT_GT(hosts, 0u);
}

// The DNS cache keys client scope by ClientId: one host's addresses share it.
TEST(HostTable, DnsCacheScopesByHost) {
  DnsCacheConfig cc;
  DnsCache cache(cc);
  std::string_view chain[] = {"dual.example.test"};
  Timestamp now = 1'700'000'000 * kNsPerSec;
  cache.insert(ClientId::host(kLaptop), ip("2001:db8::80"), chain, 300, now);
  EXPECT_EQ(cache.lookup(ClientId::host(kLaptop), ip("2001:db8::80"), now).status,
            DnsLookupStatus::Open);
  EXPECT_EQ(cache.lookup(ClientId::host(kPhone), ip("2001:db8::80"), now).status,
            DnsLookupStatus::OtherClient);
  EXPECT_EQ(cache.lookup(ip("10.0.0.10"), ip("2001:db8::80"), now).status,
            DnsLookupStatus::OtherClient);
  // The state file names the host by its MAC and reads it back.
  std::string text;
  DnsStateWriter w(text);
  w.header();
  w.entry(DnsStateEntry{ClientId::host(kLaptop),
                        ip("2001:db8::80"),
                        now + 300 * kNsPerSec,
                        {{"dual.example.test", true}}});
  EXPECT_NE(text.find("02:00:00:00:0a:01 2001:db8::80 "), std::string::npos) << text;
  DnsCache restored(cc);
  auto r = restored.load_from_string(text, now);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.loaded, 1u);
  EXPECT_EQ(restored.lookup(ClientId::host(kLaptop), ip("2001:db8::80"), now).status,
            DnsLookupStatus::Open);
}

}  // namespace
}  // namespace tripline
