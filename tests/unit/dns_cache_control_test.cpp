// The DNS cache's control-plane reads and flushes (`tripline ctl dns`): what
// matches, that a flushed address is closed at once, and that flushing runs
// safely beside inserts and lookups (also under ThreadSanitizer).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "dns_cache.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
constexpr Timestamp T0 = 1'700'000'000 * kNsPerSec;

void put(DnsCache& c, const char* client, const char* addr,
         std::initializer_list<std::string_view> chain) {
  c.insert(ip(client), ip(addr), std::span<const std::string_view>(chain.begin(), chain.size()),
           300, T0);
}

TEST(DnsCache, EntriesByNameAndAddressLeaveShadowsOut) {
  DnsCache c(DnsCacheConfig{});
  put(c, "10.0.0.1", "192.0.2.1", {"www.example.com", "cdn.example.net"});
  put(c, "10.0.0.2", "192.0.2.1", {"www.example.com"});
  put(c, "10.0.0.1", "192.0.2.2", {"other.example.org"});
  auto by_name = c.entries(DnsCacheMatch{{}, "www.example.com"}, 100);
  ASSERT_EQ(by_name.size(), 2u);  // one per client, not the shadow
  for (const auto& e : by_name) EXPECT_EQ(e.addr, ip("192.0.2.1"));
  auto by_cname = c.entries(DnsCacheMatch{{}, "cdn.example.net"}, 100);
  ASSERT_EQ(by_cname.size(), 1u);
  EXPECT_EQ(by_cname[0].scope, ClientId::address(ip("10.0.0.1")));
  EXPECT_EQ(by_cname[0].expiry, T0 + 300 * kNsPerSec);
  auto by_addr = c.entries(DnsCacheMatch{ip("192.0.2.2"), {}}, 100);
  ASSERT_EQ(by_addr.size(), 1u);
  EXPECT_EQ(by_addr[0].names, std::vector<std::string>{"other.example.org"});
  EXPECT_EQ(c.entries(DnsCacheMatch{}, 2).size(), 2u);  // the limit holds
}

TEST(DnsCache, FlushClosesTheAddressAtOnce) {
  DnsCache c(DnsCacheConfig{});
  put(c, "10.0.0.1", "192.0.2.1", {"www.example.com"});
  put(c, "10.0.0.1", "192.0.2.2", {"other.example.org"});
  ASSERT_EQ(c.lookup(ip("10.0.0.1"), ip("192.0.2.1"), T0).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.flush(DnsCacheMatch{{}, "www.example.com"}), 1u);
  EXPECT_EQ(c.lookup(ip("10.0.0.1"), ip("192.0.2.1"), T0).status, DnsLookupStatus::Unknown);
  EXPECT_EQ(c.lookup(ip("10.0.0.1"), ip("192.0.2.2"), T0).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.flush(DnsCacheMatch{ip("192.0.2.2"), {}}), 1u);
  EXPECT_EQ(c.lookup(ip("10.0.0.1"), ip("192.0.2.2"), T0).status, DnsLookupStatus::Unknown);
  // Resolved again, the name opens it again (the name index forgot it).
  put(c, "10.0.0.1", "192.0.2.1", {"www.example.com"});
  EXPECT_EQ(c.lookup(ip("10.0.0.1"), ip("192.0.2.1"), T0).status, DnsLookupStatus::Open);
  put(c, "10.0.0.3", "192.0.2.9", {"x.example"});
  EXPECT_EQ(c.flush(DnsCacheMatch{}), 2u);
  EXPECT_EQ(c.size(), 0u);
}

TEST(DnsCache, FlushBesideInsertsAndLookups) {
  DnsCache c(DnsCacheConfig{});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint32_t i = 0; !stop.load(); ++i) {
      std::string name = "n" + std::to_string(i % 50) + ".example";
      std::string_view chain[] = {name};
      uint8_t b[4] = {192, 0, 2, static_cast<uint8_t>(i % 200)};
      c.insert(ip("10.0.0.1"), IpAddr::v4(b), chain, 300, T0);
    }
  });
  std::thread reader([&] {
    while (!stop.load()) {
      (void)c.lookup(ip("10.0.0.1"), ip("192.0.2.7"), T0);
      (void)c.entries(DnsCacheMatch{{}, "n7.example"}, 10);
    }
  });
  for (int i = 0; i < 200; ++i) {
    c.flush(DnsCacheMatch{{}, "n" + std::to_string(i % 50) + ".example"});
    c.flush(DnsCacheMatch{ip("192.0.2.3"), {}});
  }
  c.flush(DnsCacheMatch{});
  stop.store(true);
  writer.join();
  reader.join();
}

}  // namespace
}  // namespace tripline
