// The EVE layouts (engine/events) from the facts stages hand them. The replay
// tests hold the full event stream; these pin each layout's optional parts.
#include "eve.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "flow_table.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

constexpr Timestamp kT0 = 1'767'225'600LL * kNsPerSec;  // 2026-01-01T00:00:00Z

Flow tcp_flow() {
  Flow f;
  f.key.lo = ip("10.0.0.2");
  f.key.hi = ip("198.51.100.7");
  f.key.lo_port = 40000;
  f.key.hi_port = 443;
  f.key.proto = 6;
  f.id = 7;
  f.start = kT0;
  f.last = kT0 + 2 * kNsPerSec;
  f.pkts[kToServer] = 3;
  f.bytes[kToServer] = 180;
  return f;
}

constexpr const char* kHeader =
    R"({"timestamp":"2026-01-01T00:00:01.000000+0000","flow_id":7,"event_type":"%s",)"
    R"("src_ip":"10.0.0.2","src_port":40000,"dest_ip":"198.51.100.7","dest_port":443,)"
    R"("proto":"TCP",)";

std::string header(const char* type) {
  std::string h = kHeader;
  h.replace(h.find("%s"), 2, type);
  return h;
}

TEST(Eve, AlertFromAStageCarriesItsReason) {
  EveBuilder eve;
  Flow f = tcp_flow();
  EXPECT_EQ(eve.alert_event({.now = kT0 + kNsPerSec,
                             .flow = f,
                             .blocked = false,
                             .signature = "sig",
                             .category = "egress",
                             .severity = 2,
                             .reason = "unresolved",
                             .would_block = true}),
            header("alert") +
                R"("alert":{"action":"allowed","signature":"sig","category":"egress",)"
                R"("severity":2,"reason":"unresolved","would_block":true}})");
  EXPECT_EQ(eve.alert_event({.now = kT0 + kNsPerSec,
                             .flow = f,
                             .blocked = true,
                             .signature = "telnet \"attempt\"",
                             .category = "policy",
                             .severity = 1}),
            header("alert") + R"("alert":{"action":"blocked","signature":"telnet \"attempt\"",)"
                              R"("category":"policy","severity":1}})");
}

TEST(Eve, FlowEventNamesTheDnsNameOnlyWhenThereIsOne) {
  EveBuilder eve;
  Flow f = tcp_flow();
  f.decision.reason = "dns";
  std::string plain = eve.flow_event(f, FlowEndReason::Timeout, kT0 + kNsPerSec);
  EXPECT_EQ(plain.find("dns_name"), std::string::npos) << plain;
  f.data.set_dns_name("www.example.test");
  std::string named = eve.flow_event(f, FlowEndReason::Timeout, kT0 + kNsPerSec);
  EXPECT_NE(named.find(R"("reason":"timeout","dns_name":"www.example.test","action":"accept",)"
                       R"("verdict_reason":"dns"})"),
            std::string::npos)
      << named;
}

TEST(Eve, DnsQueryAndAnswer) {
  EveBuilder eve;
  DnsEventFacts q{.now = kT0 + kNsPerSec,
                  .flow_id = 0,
                  .src = ip("10.0.0.2"),
                  .dst = ip("10.0.0.53"),
                  .sport = 33000,
                  .dport = 53,
                  .proto = 17,
                  .answer = false,
                  .id = 42,
                  .rrname = "www.example.test",
                  .rrtype = 28};
  EXPECT_EQ(eve.dns_event(q),
            R"({"timestamp":"2026-01-01T00:00:01.000000+0000","event_type":"dns",)"
            R"("src_ip":"10.0.0.2","src_port":33000,"dest_ip":"10.0.0.53","dest_port":53,)"
            R"("proto":"UDP","dns":{"type":"query","id":42,"rrname":"www.example.test",)"
            R"("rrtype":"AAAA"}})");

  std::vector<DnsAnswerFacts> answers = {
      {.rrname = "www.example.test", .rrtype = 5, .ttl = 60, .target = "cdn.example.test"},
      {.rrname = "cdn.example.test", .rrtype = 28, .ttl = 30, .addr = ip("2001:db8::1")},
      {.rrname = "cdn.example.test", .rrtype = 99, .ttl = 30}};
  DnsEventFacts a = q;
  a.flow_id = 3;
  std::swap(a.src, a.dst);
  std::swap(a.sport, a.dport);
  a.answer = true;
  a.rcode = 0;
  a.status = "trusted";
  a.answers = answers;
  EXPECT_EQ(eve.dns_event(a),
            R"({"timestamp":"2026-01-01T00:00:01.000000+0000","flow_id":3,"event_type":"dns",)"
            R"("src_ip":"10.0.0.53","src_port":53,"dest_ip":"10.0.0.2","dest_port":33000,)"
            R"("proto":"UDP","dns":{"type":"answer","id":42,"rrname":"www.example.test",)"
            R"("rrtype":"AAAA","rcode":"NOERROR","status":"trusted","answers":[)"
            R"({"rrname":"www.example.test","rrtype":"CNAME","ttl":60,"rdata":"cdn.example.test"},)"
            R"({"rrname":"cdn.example.test","rrtype":"AAAA","ttl":30,"rdata":"2001:db8::1"},)"
            R"({"rrname":"cdn.example.test","rrtype":"99","ttl":30}]}})");

  // A message that did not parse: no question, an unknown rcode.
  DnsEventFacts bad{.now = kT0 + kNsPerSec,
                    .src = ip("10.0.0.53"),
                    .dst = ip("10.0.0.2"),
                    .sport = 53,
                    .dport = 33000,
                    .proto = 17,
                    .answer = true,
                    .rcode = 23,
                    .status = "malformed"};
  EXPECT_NE(eve.dns_event(bad).find(
                R"("dns":{"type":"answer","id":0,"rcode":"UNKNOWN","status":"malformed"}})"),
            std::string::npos);
}

}  // namespace
}  // namespace tripline
