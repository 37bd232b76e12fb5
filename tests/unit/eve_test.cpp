// The EVE layouts (engine/events) from the facts stages hand them. The replay
// tests hold the full event stream; these pin each layout's optional parts.
#include "eve.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
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

constexpr uint64_t kSeed = 0x5eed;

// The header of an event on tcp_flow() (community_id: the Community ID of
// 10.0.0.2:40000 -> 198.51.100.7:443/TCP, as Python's hashlib computes it).
std::string header(const EveBuilder& eve, const char* type) {
  return R"({"timestamp":"2026-01-01T00:00:01.000000+0000","flow_id":)" +
         std::to_string(eve.flow_id(7)) + R"(,"event_type":")" + type +
         R"(","src_ip":"10.0.0.2","src_port":40000,"dest_ip":"198.51.100.7","dest_port":443,)"
         R"("proto":"TCP","community_id":"1:TSnKdTlx0GFpvPYcVdVve6ozcaw=",)";
}

TEST(Eve, AlertInSuricatasLayoutWithTriplinesReasonApart) {
  EveBuilder eve(0, kSeed);
  Flow f = tcp_flow();
  EXPECT_EQ(eve.alert_event({.now = kT0 + kNsPerSec,
                             .flow = f,
                             .blocked = false,
                             .signature_id = kSidEgressUnresolved,
                             .signature = "sig",
                             .category = "egress",
                             .severity = 2,
                             .reason = "unresolved",
                             .would_block = true}),
            header(eve, "alert") +
                R"("alert":{"action":"allowed","gid":1,"signature_id":9100001,"rev":1,)"
                R"("signature":"sig","category":"egress","severity":2},)"
                R"("tripline":{"reason":"unresolved","would_block":true}})");
  EXPECT_EQ(eve.alert_event({.now = kT0 + kNsPerSec,
                             .flow = f,
                             .blocked = true,
                             .signature_id = 1000001,
                             .rev = 3,
                             .signature = "telnet \"attempt\"",
                             .category = "policy",
                             .severity = 1,
                             .capture_file = "/var/lib/tripline/x.pcap"}),
            header(eve, "alert") +
                R"("capture_file":"/var/lib/tripline/x.pcap","alert":{"action":"blocked",)"
                R"("gid":1,"signature_id":1000001,"rev":3,"signature":"telnet \"attempt\"",)"
                R"("category":"policy","severity":1}})");
}

TEST(Eve, FlowEventKeepsTriplinesFieldsInTheTriplineObject) {
  EveBuilder eve(0, kSeed);
  Flow f = tcp_flow();
  f.decision.reason = "dns";
  std::string plain = eve.flow_event(f, FlowEndReason::Timeout, kT0 + kNsPerSec);
  EXPECT_EQ(plain.find("dns_name"), std::string::npos) << plain;
  EXPECT_EQ(plain, header(eve, "flow") +
                       R"("flow":{"pkts_toserver":3,"pkts_toclient":0,"bytes_toserver":180,)"
                       R"("bytes_toclient":0,"start":"2026-01-01T00:00:00.000000+0000",)"
                       R"("end":"2026-01-01T00:00:02.000000+0000","age":2,"state":"new",)"
                       R"("reason":"timeout","action":"accept"},)"
                       R"("tripline":{"verdict_reason":"dns"}})");
  f.data.set_dns_name("www.example.test");
  std::string named = eve.flow_event(f, FlowEndReason::Timeout, kT0 + kNsPerSec);
  EXPECT_NE(named.find(R"("action":"accept"},"tripline":{"verdict_reason":"dns",)"
                       R"("dns_name":"www.example.test"}})"),
            std::string::npos)
      << named;
}

TEST(Eve, FlowEventNamesTheClient) {
  EveBuilder eve(0, kSeed);
  Flow f = tcp_flow();
  f.decision.reason = "dns";
  f.data.set_client_name(std::make_shared<const std::string>("laptop"));
  std::string named = eve.flow_event(f, FlowEndReason::Rejected, kT0 + kNsPerSec);
  EXPECT_NE(named.find(R"("reason":"rejected")"), std::string::npos) << named;
  EXPECT_NE(named.find(R"("tripline":{"verdict_reason":"dns","client_name":"laptop"}})"),
            std::string::npos)
      << named;
}

TEST(Eve, FlowIdIsAHashUniqueAcrossWorkersAndRuns) {
  EveBuilder w0(0, kSeed), w1(1, kSeed), other_run(0, kSeed + 1), again(0, kSeed);
  EXPECT_EQ(w0.flow_id(0), 0u);  // no flow
  std::set<uint64_t> seen;
  for (uint64_t local = 1; local <= 1000; ++local) {
    for (const EveBuilder* b : {&w0, &w1, &other_run}) {
      uint64_t id = b->flow_id(local);
      EXPECT_NE(id, 0u);
      EXPECT_LE(id, 0x7fffffffffffffffULL);  // positive as an int64
      seen.insert(id);
    }
    EXPECT_EQ(again.flow_id(local), w0.flow_id(local));  // stable within a run
  }
  EXPECT_EQ(seen.size(), 3000u);
  EXPECT_EQ(EveBuilder(0).flow_id(5), EveBuilder(0).flow_id(5));  // one seed per process
  EXPECT_EQ(EveBuilder(0).flow_id(5), EveBuilder(0, eve_run_seed()).flow_id(5));
}

TEST(Eve, StatsInSuricatasLayoutAndEveryCounterUnderTripline) {
  EveBuilder eve(0, kSeed);
  std::vector<std::pair<std::string_view, uint64_t>> counters = {
      {"packets", 10},     {"bytes", 1500},        {"verdict_accept", 8},
      {"verdict_drop", 1}, {"verdict_reject", 1},  {"flows_created", 4},
      {"lua_errors", 2},   {"capture_packets", 5}, {"rule.no-telnet", 1}};
  EXPECT_EQ(eve.stats_event({.now = kT0 + kNsPerSec, .uptime_seconds = 8, .counters = counters}),
            R"({"timestamp":"2026-01-01T00:00:01.000000+0000","event_type":"stats",)"
            R"("stats":{"uptime":8,"decoder":{"pkts":10,"bytes":1500},)"
            R"("ips":{"accepted":8,"blocked":1,"rejected":1},"flow":{"total":4},)"
            R"("detect":{"lua":{"errors":2}},"pcap_log":{"written":5}},)"
            R"("tripline":{"stats":{"packets":10,"bytes":1500,"verdict_accept":8,)"
            R"("verdict_drop":1,"verdict_reject":1,"flows_created":4,"lua_errors":2,)"
            R"("capture_packets":5,"rule.no-telnet":1}}})");
}

TEST(Eve, DnsQueryAndAnswerInVersion3Layout) {
  EveBuilder eve(0, kSeed);
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
  // Community ID of 10.0.0.2:33000 <-> 10.0.0.53:53/UDP, either direction.
  const std::string cid = R"("community_id":"1:rLnDhKwQTqMaTCbsiCjV78exnaM=",)";
  EXPECT_EQ(eve.dns_event(q),
            R"({"timestamp":"2026-01-01T00:00:01.000000+0000","event_type":"dns",)"
            R"("src_ip":"10.0.0.2","src_port":33000,"dest_ip":"10.0.0.53","dest_port":53,)"
            R"("proto":"UDP",)" +
                cid +
                R"("dns":{"version":3,"type":"request","id":42,"queries":[)"
                R"({"rrname":"www.example.test","rrtype":"AAAA"}]}})");

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
            R"({"timestamp":"2026-01-01T00:00:01.000000+0000","flow_id":)" +
                std::to_string(eve.flow_id(3)) +
                R"(,"event_type":"dns",)"
                R"("src_ip":"10.0.0.53","src_port":53,"dest_ip":"10.0.0.2","dest_port":33000,)"
                R"("proto":"UDP",)" +
                cid +
                R"("dns":{"version":3,"type":"response","id":42,"qr":true,"rcode":"NOERROR",)"
                R"("queries":[{"rrname":"www.example.test","rrtype":"AAAA"}],"answers":[)"
                R"({"rrname":"www.example.test","rrtype":"CNAME","ttl":60,)"
                R"("rdata":"cdn.example.test"},)"
                R"({"rrname":"cdn.example.test","rrtype":"AAAA","ttl":30,"rdata":"2001:db8::1"},)"
                R"({"rrname":"cdn.example.test","rrtype":"99","ttl":30}]},)"
                R"("tripline":{"dns_status":"trusted"}})");

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
  std::string bad_line = eve.dns_event(bad);
  EXPECT_NE(bad_line.find(R"("dns":{"version":3,"type":"response","id":0,"qr":true,)"
                          R"("rcode":"UNKNOWN"},"tripline":{"dns_status":"malformed"}})"),
            std::string::npos)
      << bad_line;
}

}  // namespace
}  // namespace tripline
