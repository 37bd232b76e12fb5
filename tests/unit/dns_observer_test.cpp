#include "dns_observer.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <vector>

#include "dns_cache.h"
#include "dns_message.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "worker.h"

namespace tripline {
namespace {

using Bytes = std::vector<uint8_t>;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// A DNS message built with ldns; answers in zone-file text.
Bytes dns(const char* qname, ldns_rr_type qtype, uint16_t id, bool response,
          std::initializer_list<const char*> answers = {}) {
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_pkt_query_new_frm_str(&p, qname, qtype, LDNS_RR_CLASS_IN, LDNS_RD),
            LDNS_STATUS_OK);
  ldns_pkt_set_id(p, id);
  ldns_pkt_set_qr(p, response);
  for (const char* text : answers) {
    ldns_rr* rr = nullptr;
    EXPECT_EQ(ldns_rr_new_frm_str(&rr, text, 0, nullptr, nullptr), LDNS_STATUS_OK) << text;
    ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
  }
  uint8_t* wire = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, p, &size), LDNS_STATUS_OK);
  Bytes out(wire, wire + size);
  std::free(wire);
  ldns_pkt_free(p);
  return out;
}

// A worker with the DNS observer and egress policy of a pipeline built from `toml`.
class DnsObserverTest : public ::testing::Test {
 protected:
  void start(const char* toml) {
    cfg_ = std::make_shared<Config>(Config::load_string(toml, "<test>"));
    pipeline_ = std::make_unique<Pipeline>(cfg_, Pipeline::Mode::Replay);
    worker_ = std::make_unique<Worker>(cfg_, 0, nullptr);
    pipeline_->stage_factory()(*worker_);
  }
  Decision feed(const Bytes& packet) {
    now_ += kNsPerSec / 100;
    return worker_->process(LinkType::Raw, packet, now_);
  }
  DnsLookupStatus lookup(const char* client, const char* addr) {
    return pipeline_->dns_cache()->lookup(ip(client), ip(addr), now_).status;
  }

  std::shared_ptr<Config> cfg_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<Worker> worker_;
  Timestamp now_ = 1767225600 * kNsPerSec;
};

constexpr const char* kEnforce = R"(
[dns]
resolvers = ["10.0.0.53"]
[egress]
mode = "enforce"
)";

// Two queries out at once with the same id from the same port (A and AAAA):
// each genuine answer must match its own query; one must not evict the other.
TEST_F(DnsObserverTest, SameIdForTwoQtypesMatchesBothAnswers) {
  start(kEnforce);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  feed(craft::udp(cli, 33000, res, 53, dns("dual.example.test.", LDNS_RR_TYPE_A, 7, false)));
  feed(craft::udp(cli, 33000, res, 53, dns("dual.example.test.", LDNS_RR_TYPE_AAAA, 7, false)));
  Decision a = feed(craft::udp(res, 53, cli, 33000,
                               dns("dual.example.test.", LDNS_RR_TYPE_A, 7, true,
                                   {"dual.example.test. 300 IN A 203.0.113.2"})));
  Decision aaaa = feed(craft::udp(res, 53, cli, 33000,
                                  dns("dual.example.test.", LDNS_RR_TYPE_AAAA, 7, true,
                                      {"dual.example.test. 300 IN AAAA 2001:db8::2"})));
  EXPECT_EQ(a.verdict, Verdict::Accept) << a.reason;
  EXPECT_EQ(aaaa.verdict, Verdict::Accept) << aaaa.reason;
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.2"), DnsLookupStatus::Open);
  EXPECT_EQ(lookup("10.0.0.10", "2001:db8::2"), DnsLookupStatus::Open);
  EXPECT_EQ(worker_->counters().dns_answers_unmatched.get(), 0u);
}

// Same id and port for two names: each answer matches its own question.
TEST_F(DnsObserverTest, SameIdForTwoNamesMatchesBothAnswers) {
  start(kEnforce);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  feed(craft::udp(cli, 33000, res, 53, dns("one.example.test.", LDNS_RR_TYPE_A, 9, false)));
  feed(craft::udp(cli, 33000, res, 53, dns("two.example.test.", LDNS_RR_TYPE_A, 9, false)));
  feed(craft::udp(res, 53, cli, 33000,
                  dns("one.example.test.", LDNS_RR_TYPE_A, 9, true,
                      {"one.example.test. 300 IN A 203.0.113.1"})));
  feed(craft::udp(res, 53, cli, 33000,
                  dns("two.example.test.", LDNS_RR_TYPE_A, 9, true,
                      {"two.example.test. 300 IN A 203.0.113.2"})));
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.1"), DnsLookupStatus::Open);
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.2"), DnsLookupStatus::Open);
}

// The question still has to match: a wrong qtype or name with the right id opens nothing.
TEST_F(DnsObserverTest, WrongQuestionWithRightIdIsUnmatched) {
  start(kEnforce);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  feed(craft::udp(cli, 33000, res, 53, dns("q.example.test.", LDNS_RR_TYPE_AAAA, 5, false)));
  Decision wrong_type = feed(craft::udp(res, 53, cli, 33000,
                                        dns("q.example.test.", LDNS_RR_TYPE_A, 5, true,
                                            {"q.example.test. 300 IN A 203.0.113.5"})));
  Decision wrong_name = feed(craft::udp(res, 53, cli, 33000,
                                        dns("x.example.test.", LDNS_RR_TYPE_AAAA, 5, true,
                                            {"x.example.test. 300 IN AAAA 2001:db8::5"})));
  EXPECT_EQ(wrong_type.verdict, Verdict::Drop);
  EXPECT_EQ(wrong_name.verdict, Verdict::Drop);
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.5"), DnsLookupStatus::Unknown);
  EXPECT_EQ(lookup("10.0.0.10", "2001:db8::5"), DnsLookupStatus::Unknown);
  EXPECT_EQ(worker_->counters().dns_answers_unmatched.get(), 2u);
}

// A blocked answer (null mode) goes out as a complete replacement packet: same
// addresses and ports, valid checksums, the unspecified address as the answer.
TEST_F(DnsObserverTest, BlockedAnswerIsReplacedByAValidNullAnswer) {
  for (const char* family : {"v4", "v6"}) {
    SCOPED_TRACE(family);
    bool v6 = family[1] == '6';
    std::string toml = std::string("[dns]\nresolvers = [\"") + (v6 ? "fd00::53" : "10.0.0.53") +
                       "\"]\nblock_lists = [\"" + TRIPLINE_SOURCE_DIR +
                       "/tests/replay/dns-blocklist/block.txt\"]\n[egress]\nmode = \"enforce\"\n";
    start(toml.c_str());
    IpAddr cli = ip(v6 ? "fd00::10" : "10.0.0.10"), res = ip(v6 ? "fd00::53" : "10.0.0.53");
    ldns_rr_type qtype = v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
    const char* rr = v6 ? "ads.example.test. 300 IN AAAA 2001:db8::50"
                        : "ads.example.test. 300 IN A 203.0.113.50";
    feed(craft::udp(cli, 33000, res, 53, dns("ads.example.test.", qtype, 3, false)));
    Decision d = feed(craft::udp(res, 53, cli, 33000, dns("ads.example.test.", qtype, 3, true, {rr})));
    EXPECT_EQ(d.verdict, Verdict::Accept);
    EXPECT_EQ(d.reason, "blocklist:block.txt");
    ASSERT_FALSE(d.replacement.empty());
    Bytes copy(d.replacement.begin(), d.replacement.end());
    Bytes fixed = copy;
    ASSERT_TRUE(craft::fix_checksums(fixed));
    EXPECT_EQ(copy, fixed) << "checksums were not valid";
    Decoded out;
    ASSERT_EQ(decode(LinkType::Raw, copy, out), DecodeError::None);
    EXPECT_EQ(out.src, res);
    EXPECT_EQ(out.dst, cli);
    EXPECT_EQ(out.sport, 53);
    EXPECT_EQ(out.dport, 33000);
    DnsMessage m;
    ASSERT_EQ(parse_dns_message(out.payload, m), DnsParseStatus::Ok);
    EXPECT_EQ(m.id, 3);
    EXPECT_TRUE(m.qr);
    ASSERT_EQ(m.answers.size(), 1u);
    EXPECT_EQ(m.answers[0].addr, ip(v6 ? "::" : "0.0.0.0"));
    EXPECT_EQ(lookup(v6 ? "fd00::10" : "10.0.0.10", v6 ? "2001:db8::50" : "203.0.113.50"),
              DnsLookupStatus::Unknown);
  }
}

}  // namespace
}  // namespace tripline
