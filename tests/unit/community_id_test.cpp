// The Community ID v1 flow hash (engine/events/community_id.h) against the
// published vectors other implementations test with (the spec's examples,
// as in Elasticsearch's community_id processor and pycommunityid).
#include "community_id.h"

#include <gtest/gtest.h>

#include <string>

namespace tripline {
namespace {

std::string cid(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t proto,
                uint16_t seed = 0) {
  char out[kCommunityIdLen];
  size_t n =
      community_id_v1(*IpAddr::parse(src), sport, *IpAddr::parse(dst), dport, proto, out, seed);
  return std::string(out, n);
}

TEST(CommunityId, PublishedVectors) {
  EXPECT_EQ(cid("128.232.110.120", 34855, "66.35.250.204", 80, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  EXPECT_EQ(cid("192.168.1.52", 54585, "8.8.8.8", 53, 17), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
  EXPECT_EQ(cid("192.168.170.8", 7, "192.168.170.56", 7, 132), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=");
  EXPECT_EQ(cid("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 6),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
  // ICMP echo request (type 8, code 0) and ICMPv6 router advertisement (134).
  EXPECT_EQ(cid("192.168.0.89", 8, "192.168.0.1", 0, 1), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
  EXPECT_EQ(cid("fe80::260:97ff:fe07:69ea", 134, "ff02::1", 0, 58),
            "1:pkvHqCL88/tg1k4cPigmZXUtL00=");
}

TEST(CommunityId, BothDirectionsOfAFlowHashAlike) {
  EXPECT_EQ(cid("66.35.250.204", 80, "128.232.110.120", 34855, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  EXPECT_EQ(cid("8.8.8.8", 53, "192.168.1.52", 54585, 17), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
  // The echo reply (type 0) belongs to the request's flow.
  EXPECT_EQ(cid("192.168.0.1", 0, "192.168.0.89", 0, 1), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
  // Same addresses: the ports decide the order.
  EXPECT_EQ(cid("10.0.0.1", 2000, "10.0.0.1", 1000, 17),
            cid("10.0.0.1", 1000, "10.0.0.1", 2000, 17));
}

TEST(CommunityId, SeedAndFamiliesMatter) {
  EXPECT_NE(cid("192.168.1.52", 54585, "8.8.8.8", 53, 17, 1), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
  EXPECT_EQ(cid("10.0.0.1", 1, "2001:db8::1", 2, 6), "");  // mixed families: none
}

}  // namespace
}  // namespace tripline
