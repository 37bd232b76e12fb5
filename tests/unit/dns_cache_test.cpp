#include "dns_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
IpAddr v4(uint32_t n) {
  uint8_t b[4] = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                  static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  return IpAddr::v4(b);
}

constexpr Timestamp T0 = 1'700'000'000 * kNsPerSec;
Timestamp at(double s) { return T0 + seconds(s); }

const IpAddr kC1 = ip("10.0.0.1");
const IpAddr kC2 = ip("10.0.0.2");

void put(DnsCache& c, const IpAddr& client, const char* addr,
         std::initializer_list<std::string_view> chain, uint32_t ttl, Timestamp now) {
  c.insert(client, ip(addr), std::span<const std::string_view>(chain.begin(), chain.size()), ttl,
           now);
}

DnsCacheConfig cfg(bool client_scope = true) {
  DnsCacheConfig c;
  c.scope_client = client_scope;
  c.min_ttl = 60;
  c.max_ttl = 3600;
  c.grace = 30;
  return c;
}

std::string temp_path(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          ("tripline-dns-cache-" + std::to_string(::getpid()) + "-" + tag))
      .string();
}

TEST(DnsCache, TtlClamps) {
  DnsCache c(cfg());
  put(c, kC1, "192.0.2.1", {"short.example"}, 5, at(0));
  put(c, kC1, "192.0.2.2", {"long.example"}, 1'000'000, at(0));
  put(c, kC1, "192.0.2.3", {"mid.example"}, 600, at(0));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(0)).expiry, at(60));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.2"), at(0)).expiry, at(3600));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.3"), at(0)).expiry, at(600));
}

TEST(DnsCache, Grace) {
  DnsCache c(cfg());
  put(c, kC1, "192.0.2.1", {"www.example.com"}, 60, at(0));
  DnsLookup l = c.lookup(kC1, ip("192.0.2.1"), at(60));
  EXPECT_EQ(l.status, DnsLookupStatus::Open);
  EXPECT_FALSE(l.in_grace);
  EXPECT_EQ(l.name.view(), "www.example.com");
  l = c.lookup(kC1, ip("192.0.2.1"), at(75));
  EXPECT_EQ(l.status, DnsLookupStatus::Open);
  EXPECT_TRUE(l.in_grace);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(90)).status, DnsLookupStatus::Open);
  l = c.lookup(kC1, ip("192.0.2.1"), at(90.5));
  EXPECT_EQ(l.status, DnsLookupStatus::Expired);
  EXPECT_EQ(l.name.view(), "www.example.com");
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.99"), at(0)).status, DnsLookupStatus::Unknown);
  DnsCacheStats st = c.stats();
  EXPECT_EQ(st.lookups_open, 3u);
  EXPECT_EQ(st.lookups_grace, 2u);
  EXPECT_EQ(st.lookups_expired, 1u);
  EXPECT_EQ(st.lookups_unknown, 1u);
}

TEST(DnsCache, ClientScope) {
  DnsCache c(cfg(true));
  put(c, kC1, "192.0.2.1", {"www.example.com"}, 60, at(0));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(1)).status, DnsLookupStatus::Open);
  DnsLookup other = c.lookup(kC2, ip("192.0.2.1"), at(1));
  EXPECT_EQ(other.status, DnsLookupStatus::OtherClient);
  EXPECT_EQ(other.name.view(), "www.example.com");
  // After expiry + grace: the resolving client sees Expired, the other Unknown.
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(100)).status, DnsLookupStatus::Expired);
  EXPECT_EQ(c.lookup(kC2, ip("192.0.2.1"), at(100)).status, DnsLookupStatus::Unknown);
  // The second client resolves it too.
  put(c, kC2, "192.0.2.1", {"www.example.com"}, 60, at(100));
  EXPECT_EQ(c.lookup(kC2, ip("192.0.2.1"), at(101)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(101)).status, DnsLookupStatus::Expired);
  EXPECT_EQ(c.stats().lookups_other_client, 1u);
}

TEST(DnsCache, GlobalScope) {
  DnsCache c(cfg(false));
  put(c, kC1, "2001:db8::1", {"www.example.com"}, 60, at(0));
  EXPECT_EQ(c.lookup(kC1, ip("2001:db8::1"), at(1)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.lookup(kC2, ip("2001:db8::1"), at(1)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.lookup(kC2, ip("2001:db8::1"), at(91)).status, DnsLookupStatus::Expired);
  EXPECT_EQ(c.size(), 1u);  // no shadow entries in global scope
}

TEST(DnsCache, RefreshKeepsLaterExpiryAndNames) {
  DnsCache c(cfg());
  put(c, kC1, "192.0.2.1", {"www.example.com", "edge.cdn.net"}, 600, at(0));
  put(c, kC1, "192.0.2.1", {"img.example.com", "edge.cdn.net"}, 60, at(10));
  DnsLookup l = c.lookup(kC1, ip("192.0.2.1"), at(10));
  EXPECT_EQ(l.expiry, at(600));
  EXPECT_EQ(l.name.view(), "img.example.com");
  EXPECT_EQ(c.names(kC1, ip("192.0.2.1")),
            (std::vector<std::string>{"img.example.com", "edge.cdn.net", "www.example.com"}));
  // More names than fit: CNAME targets go before names the client asked for.
  put(c, kC1, "192.0.2.1", {"a.example.com"}, 60, at(11));
  put(c, kC1, "192.0.2.1", {"b.example.com"}, 60, at(12));
  EXPECT_EQ(c.names(kC1, ip("192.0.2.1")),
            (std::vector<std::string>{"b.example.com", "a.example.com", "img.example.com",
                                      "www.example.com"}));
  put(c, kC1, "192.0.2.1", {"c.example.com"}, 60, at(13));
  EXPECT_EQ(c.names(kC1, ip("192.0.2.1")).size(), 4u);
  EXPECT_EQ(c.names(kC1, ip("192.0.2.1")).front(), "c.example.com");
  EXPECT_EQ(c.names(kC1, ip("192.0.2.1")).back(), "img.example.com");
}

TEST(DnsCache, StringChainOverloadAndRejects) {
  DnsCache c(cfg());
  std::vector<std::string> chain = {"www.example.com", "a.cdn.net", "b.cdn.net"};
  c.insert(kC1, ip("192.0.2.1"), std::span<const std::string>(chain), 60, at(0));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(0)).name.view(), "www.example.com");
  EXPECT_EQ(c.names(kC1, ip("192.0.2.1")).size(), 3u);
  c.insert(kC1, IpAddr{}, std::span<const std::string>(chain), 60, at(0));
  c.insert(kC1, ip("192.0.2.2"), std::span<const std::string>(), 60, at(0));
  EXPECT_EQ(c.stats().rejected, 2u);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.2"), at(0)).status, DnsLookupStatus::Unknown);
}

TEST(DnsCache, EvictsSoonestExpiringWhenFull) {
  DnsCacheConfig conf = cfg(false);
  conf.min_ttl = 1;
  conf.shards = 1;
  conf.max_entries = 3;
  DnsCache c(conf);
  put(c, kC1, "192.0.2.1", {"a.example"}, 100, at(0));
  put(c, kC1, "192.0.2.2", {"b.example"}, 300, at(0));
  put(c, kC1, "192.0.2.3", {"c.example"}, 200, at(0));
  put(c, kC1, "192.0.2.1", {"a.example"}, 500, at(1));  // refresh: a now expires last
  put(c, kC1, "192.0.2.4", {"d.example"}, 400, at(1));
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.3"), at(2)).status, DnsLookupStatus::Unknown);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(2)).status, DnsLookupStatus::Open);
  put(c, kC1, "192.0.2.5", {"e.example"}, 400, at(2));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.2"), at(2)).status, DnsLookupStatus::Unknown);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.4"), at(2)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.5"), at(2)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.stats().evictions, 2u);
}

TEST(DnsCache, BoundedWithManyShards) {
  DnsCacheConfig conf = cfg(true);
  conf.max_entries = 1000;
  DnsCache c(conf);
  for (uint32_t i = 0; i < 20000; ++i) {
    std::string name = "n" + std::to_string(i) + ".example";
    std::string_view chain[] = {name};
    c.insert(kC1, v4(0x0a000000 + i), chain, 60 + i % 1000, at(0));
  }
  EXPECT_LE(c.size(), 1000u + c.config().shards);  // each shard rounds its bound up
  EXPECT_GT(c.stats().evictions, 18000u);
  // The soonest-expiring went first; the last, long-lived one is there.
  EXPECT_EQ(c.lookup(kC1, v4(0x0a000000), at(0)).status, DnsLookupStatus::Unknown);
  EXPECT_EQ(c.lookup(kC1, v4(0x0a000000 + 19999), at(0)).status, DnsLookupStatus::Open);
}

TEST(DnsCache, EvictionInABigShardKeepsTheLongLived) {
  // 1,000 entries in one shard, 10,000 inserted with TTLs spread over
  // 60..1059 s: sampled eviction is not exact here, but what stays must be
  // overwhelmingly the long-lived half.
  DnsCacheConfig conf = cfg(false);
  conf.shards = 1;
  conf.max_entries = 1000;
  conf.min_ttl = 1;
  DnsCache c(conf);
  uint32_t x = 12345;
  std::vector<uint32_t> ttl(10000);
  for (uint32_t i = 0; i < ttl.size(); ++i) {
    x = x * 1103515245 + 12345;
    ttl[i] = 60 + (x >> 8) % 1000;
    std::string name = "n" + std::to_string(i) + ".example";
    std::string_view chain[] = {name};
    c.insert(kC1, v4(0x0a000000 + i), chain, ttl[i], at(0));
  }
  ASSERT_EQ(c.size(), 1000u);
  size_t kept = 0, long_lived = 0;
  for (uint32_t i = 0; i < ttl.size(); ++i) {
    if (c.lookup(kC1, v4(0x0a000000 + i), at(0)).status != DnsLookupStatus::Open) continue;
    ++kept;
    if (ttl[i] >= 560) ++long_lived;
  }
  EXPECT_EQ(kept, 1000u);
  EXPECT_GE(long_lived, 950u);
}

TEST(DnsCache, ShardCountFitsTablesToTheBound) {
  auto shards = [](uint32_t max_entries) {
    DnsCacheConfig conf;
    conf.max_entries = max_entries;
    return DnsCache(conf).config().shards;
  };
  // 1,000,000 over 64 shards would be 15,625 per shard: just past 7/8 of 16,384.
  uint32_t n = shards(1'000'000);
  EXPECT_GE(n, 64u);
  EXPECT_LE(n, 128u);
  EXPECT_LE((1'000'000 + n - 1) / n, 14'336u);  // 7/8 of 16,384
  EXPECT_GT((1'000'000 + n - 1) / n, 14'336u * 3 / 4);
  EXPECT_EQ(shards(262'144), 74u);  // the default bound: 3,543 per shard, 7/8 of 4,096 = 3,584
  DnsCacheConfig fixed;
  fixed.shards = 5;
  EXPECT_EQ(DnsCache(fixed).config().shards, 5u);  // as configured
}

TEST(DnsCache, PerNameCap) {
  DnsCacheConfig conf = cfg(true);
  conf.max_addrs_per_name = 3;
  DnsCache c(conf);
  put(c, kC1, "192.0.2.1", {"other.example"}, 60, at(0));
  for (int i = 1; i <= 5; ++i) {
    std::string a = "192.0.2." + std::to_string(i);
    put(c, kC1, a.c_str(), {"rr.example"}, 60, at(i));
  }
  // .1 and .2 were the oldest for rr.example: .1 stays open by other.example.
  DnsLookup l1 = c.lookup(kC1, ip("192.0.2.1"), at(6));
  EXPECT_EQ(l1.status, DnsLookupStatus::Open);
  EXPECT_EQ(l1.name.view(), "other.example");
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.2"), at(6)).status, DnsLookupStatus::Unknown);
  for (int i = 3; i <= 5; ++i) {
    std::string a = "192.0.2." + std::to_string(i);
    EXPECT_EQ(c.lookup(kC1, ip(a.c_str()), at(6)).status, DnsLookupStatus::Open) << a;
  }
  EXPECT_EQ(c.stats().name_cap_drops, 2u);
  // Re-resolving an address makes it the newest: .3 survives the next one.
  put(c, kC1, "192.0.2.3", {"rr.example"}, 60, at(7));
  put(c, kC1, "192.0.2.6", {"rr.example"}, 60, at(8));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.3"), at(9)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.4"), at(9)).status, DnsLookupStatus::Unknown);
  // The cap is per client: another client has its own three.
  put(c, kC2, "192.0.2.4", {"rr.example"}, 60, at(9));
  EXPECT_EQ(c.lookup(kC2, ip("192.0.2.4"), at(9)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.6"), at(9)).status, DnsLookupStatus::Open);
}

TEST(DnsCache, Purge) {
  DnsCache c(cfg(true));
  put(c, kC1, "192.0.2.1", {"a.example"}, 60, at(0));
  put(c, kC1, "192.0.2.2", {"b.example"}, 600, at(0));
  EXPECT_EQ(c.size(), 4u);  // two entries + two shadows
  EXPECT_EQ(c.purge(at(90)), 0u);
  EXPECT_EQ(c.purge(at(91)), 2u);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(91)).status, DnsLookupStatus::Unknown);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.2"), at(91)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.stats().purged, 2u);
  // The name index forgets purged names too: a new address for a.example is fine.
  put(c, kC1, "192.0.2.3", {"a.example"}, 60, at(100));
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.3"), at(100)).status, DnsLookupStatus::Open);

  DnsCacheConfig conf = cfg(true);
  conf.keep_expired = 100;
  DnsCache k(conf);
  put(k, kC1, "192.0.2.1", {"a.example"}, 60, at(0));
  EXPECT_EQ(k.purge(at(91)), 0u);
  EXPECT_EQ(k.lookup(kC1, ip("192.0.2.1"), at(91)).status, DnsLookupStatus::Expired);
  EXPECT_EQ(k.purge(at(191)), 2u);
  EXPECT_EQ(k.lookup(kC1, ip("192.0.2.1"), at(191)).status, DnsLookupStatus::Unknown);
}

TEST(DnsCache, SaveLoadRoundTrip) {
  std::string path = temp_path("roundtrip");
  {
    DnsCache c(cfg(true));
    put(c, kC1, "192.0.2.1", {"www.example.com", "edge.cdn.net"}, 600, at(0));
    put(c, kC2, "2001:db8::7", {"v6.example.com"}, 3600, at(0));
    put(c, kC1, "192.0.2.9", {"short.example"}, 60, at(0));
    put(c, kC1, "192.0.2.10", {"we ird%name\x01"}, 600, at(0));
    DnsCacheSaveResult s = c.save(path, at(10));
    ASSERT_TRUE(s.ok) << s.error;
    EXPECT_EQ(s.entries, 8u);
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  DnsCache d(cfg(true));
  DnsCacheLoadResult r = d.load(path, at(100));  // short.example: expired beyond grace
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.loaded, 6u);
  EXPECT_EQ(r.expired, 2u);
  EXPECT_EQ(r.corrupt, 0u);
  DnsLookup l = d.lookup(kC1, ip("192.0.2.1"), at(100));
  EXPECT_EQ(l.status, DnsLookupStatus::Open);
  EXPECT_EQ(l.expiry, at(600));
  EXPECT_EQ(d.names(kC1, ip("192.0.2.1")),
            (std::vector<std::string>{"www.example.com", "edge.cdn.net"}));
  EXPECT_EQ(d.lookup(kC2, ip("2001:db8::7"), at(100)).status, DnsLookupStatus::Open);
  EXPECT_EQ(d.lookup(kC1, ip("2001:db8::7"), at(100)).status, DnsLookupStatus::OtherClient);
  EXPECT_EQ(d.lookup(kC1, ip("192.0.2.9"), at(100)).status, DnsLookupStatus::Unknown);
  EXPECT_EQ(d.lookup(kC1, ip("192.0.2.10"), at(100)).name.view(), "we ird%name\x01");
  EXPECT_EQ(d.lookup(kC1, ip("192.0.2.1"), at(631)).status, DnsLookupStatus::Expired);

  // The same file in global scope: client lines skipped, shadows give global entries.
  DnsCache g(cfg(false));
  r = g.load(path, at(100));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.loaded, 3u);
  EXPECT_EQ(r.skipped, 4u);
  EXPECT_EQ(g.lookup(kC2, ip("192.0.2.1"), at(100)).status, DnsLookupStatus::Open);
  std::filesystem::remove(path);
}

TEST(DnsCache, LoadClampsFarFutureExpiry) {
  DnsCache c(cfg(false));
  std::string text =
      "tripline-dns-cache 1\n* 192.0.2.1 " + std::to_string(at(1e9)) + " q:far.example\n";
  DnsCacheLoadResult r = c.load_from_string(text, at(0));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.1"), at(0)).expiry, at(3600));
}

TEST(DnsCache, CorruptFile) {
  DnsCache c(cfg(true));
  std::string exp = std::to_string(at(600));
  std::string text =
      "tripline-dns-cache 1\r\n"
      "* 192.0.2.1 " +
      exp +
      " q:ok.example\r\n"
      "garbage\n"
      "* 300.0.0.1 " +
      exp +
      " q:bad.example\n"
      "nope 192.0.2.2 " +
      exp +
      " q:bad.example\n"
      "* 192.0.2.3 12x q:bad.example\n"
      "* 192.0.2.4 " +
      exp +
      " x:bad.example\n"
      "* 192.0.2.5 " +
      exp +
      " c:only.cname\n"
      "* 192.0.2.6 " +
      exp +
      " q:bad%zz\n"
      "* 192.0.2.7 " +
      exp +
      " q:bad%4\n"
      "* 192.0.2.8 -5 q:neg.example\n"
      "\n# comment\n"
      "10.0.0.1 192.0.2.9 " +
      exp + " q:ok2.example c:cdn.example";
  DnsCacheLoadResult r = c.load_from_string(text, at(0), "state.txt");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.loaded, 2u);
  EXPECT_EQ(r.corrupt, 9u);
  ASSERT_EQ(r.warnings.size(), 9u);
  EXPECT_EQ(r.warnings[0].rfind("state.txt:3:", 0), 0u) << r.warnings[0];
  EXPECT_EQ(c.lookup(kC1, ip("192.0.2.9"), at(0)).status, DnsLookupStatus::Open);
  EXPECT_EQ(c.lookup(kC2, ip("192.0.2.1"), at(0)).status, DnsLookupStatus::OtherClient);

  DnsCache d(cfg(true));
  r = d.load_from_string("tripline-dns-cache 2\n* 192.0.2.1 1 q:x\n", at(0));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(d.size(), 0u);
  r = d.load_from_string("", at(0));
  EXPECT_FALSE(r.ok);
  r = d.load(temp_path("does-not-exist"), at(0));
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.missing);

  // Random bytes after a valid header: counted, never a crash.
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string junk = "tripline-dns-cache 1\n";
    int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i)
      junk.push_back(static_cast<char>(rng() % 4 ? rng() % 96 + 32 : rng()));
    d.load_from_string(junk, at(0));
  }
}

TEST(DnsCache, SaveFailsCleanly) {
  DnsCache c(cfg(true));
  put(c, kC1, "192.0.2.1", {"a.example"}, 60, at(0));
  DnsCacheSaveResult s = c.save("/nonexistent-dir-tripline/state", at(0));
  EXPECT_FALSE(s.ok);
  EXPECT_FALSE(s.error.empty());
}

TEST(DnsCache, ConcurrentReadersAndWriter) {
  DnsCacheConfig conf = cfg(true);
  conf.max_entries = 1 << 20;
  DnsCache c(conf);
  constexpr uint32_t kN = 20000;
  std::atomic<uint32_t> published{0};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> wrong{0}, reads{0};
  std::thread writer([&] {
    for (uint32_t i = 0; i < kN; ++i) {
      std::string name = "host" + std::to_string(i) + ".example";
      std::string_view chain[] = {name, "cdn.example"};
      c.insert(kC1, v4(0x0a000000 + i), chain, 600, at(0));
      published.store(i + 1, std::memory_order_release);
      if (i % 5000 == 0) c.purge(at(1));
    }
    done.store(true);
  });
  auto reader = [&](uint32_t seed) {
    std::mt19937 rng(seed);
    while (!done.load()) {
      uint32_t n = published.load(std::memory_order_acquire);
      if (n == 0) continue;
      uint32_t j = rng() % n;
      DnsLookup l = c.lookup(kC1, v4(0x0a000000 + j), at(1));
      std::string want = "host" + std::to_string(j) + ".example";
      if (l.status != DnsLookupStatus::Open || l.name.view() != want) ++wrong;
      if (c.lookup(kC2, v4(0x0a000000 + j), at(1)).status != DnsLookupStatus::OtherClient) ++wrong;
      if (c.lookup(kC1, v4(0x0b000000 + j), at(1)).status != DnsLookupStatus::Unknown) ++wrong;
      ++reads;
    }
  };
  std::thread r1(reader, 1), r2(reader, 2);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(c.size(), 2 * kN);
}

}  // namespace
}  // namespace tripline
