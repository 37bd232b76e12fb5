#include "cidr_set.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tripline
