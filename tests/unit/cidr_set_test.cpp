#include "cidr_set.h"

#include <gtest/gtest.h>

#include <random>

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

TEST(CidrSet, ParsesAndMasks) {
  auto c = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "10.0.0.0/8");
  EXPECT_EQ(Cidr::parse("192.0.2.1")->to_string(), "192.0.2.1/32");
  EXPECT_EQ(Cidr::parse("fd00::1/8")->to_string(), "fd00::/8");
  EXPECT_EQ(Cidr::parse("2001:db8::/33")->to_string(), "2001:db8::/33");
}

TEST(CidrSet, RejectsBadText) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0/8", "::/129", "10.0.0.0/", "10.0.0.0/8x",
                          "hello", "10.0.0.0/-1", "1.2.3.4 /8"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

TEST(CidrSet, Contains) {
  CidrSet s;
  s.add(*Cidr::parse("10.0.0.0/8"));
  s.add(*Cidr::parse("192.168.1.0/24"));
  s.add(*Cidr::parse("fe80::/10"));
  s.add(*Cidr::parse("0.0.0.0/0"));
  EXPECT_TRUE(s.contains(ip("10.255.1.1")));
  EXPECT_TRUE(s.contains(ip("8.8.8.8")));  // via /0
  EXPECT_TRUE(s.contains(ip("fe80::1")));
  EXPECT_TRUE(s.contains(ip("febf::1")));
  EXPECT_FALSE(s.contains(ip("fec0::1")));
  EXPECT_FALSE(s.contains(IpAddr{}));

  CidrSet t;
  t.add(*Cidr::parse("192.168.1.0/24"));
  EXPECT_TRUE(t.contains(ip("192.168.1.77")));
  EXPECT_FALSE(t.contains(ip("192.168.2.1")));
  EXPECT_FALSE(t.contains(ip("::ffff:192.168.1.1")));
}

// Small sets are scanned, large ones hashed by prefix length: both must
// agree with the definition (some prefix covers the address) on addresses
// near and far from the prefixes, at every length, in both families.
TEST(CidrSet, ScannedAndHashedAgreeWithDefinition) {
  std::mt19937_64 rng(7);
  auto random_addr = [&](bool v4) {
    uint8_t b[16];
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return v4 ? IpAddr::v4(b) : IpAddr::v6(b);
  };
  for (size_t count :
       {size_t{1}, size_t{5}, CidrSet::kScanMax, CidrSet::kScanMax + 1, size_t{200}}) {
    CidrSet set;
    std::vector<Cidr> prefixes;
    for (size_t i = 0; i < count; ++i) {
      bool v4 = i % 2 == 0;
      auto len = static_cast<uint8_t>(rng() % ((v4 ? 32 : 128) + 1));
      Cidr c{mask_address(random_addr(v4), len), len};
      prefixes.push_back(c);
      set.add(c);
    }
    for (int i = 0; i < 4000; ++i) {
      // A third of the probes start inside a prefix with random host bits.
      IpAddr a;
      if (i % 3 == 2) {
        // A prefix's network with one bit inside the prefix flipped: just outside it.
        const Cidr& c = prefixes[rng() % prefixes.size()];
        a = c.addr;
        if (c.length > 0) {
          unsigned bit = static_cast<unsigned>(rng() % c.length);
          a.bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
        }
      } else if (i % 3 == 0) {
        const Cidr& c = prefixes[rng() % prefixes.size()];
        IpAddr r = random_addr(c.addr.is_v4());
        a = c.addr;
        IpAddr host = mask_address(r, c.length);
        for (size_t k = 0; k < 16; ++k) a.bytes[k] |= r.bytes[k] & ~host.bytes[k];
        if (a.is_v4()) std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
      } else {
        a = random_addr(rng() % 2 == 0);
      }
      bool want = false;
      for (const Cidr& c : prefixes)
        want |= c.addr.family == a.family && mask_address(a, c.length) == c.addr;
      ASSERT_EQ(set.contains(a), want) << count << " prefixes, " << a.to_string();
    }
  }
}

}  // namespace
}  // namespace tripline
