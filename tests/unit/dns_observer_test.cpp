#include "dns_observer.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "dns_cache.h"
#include "dns_message.h"
#include "dns_wire_builder.h"
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
  return test::build_dns(qname, qtype, answers, response, id);
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
  Decision wrong_type = feed(craft::udp(
      res, 53, cli, 33000,
      dns("q.example.test.", LDNS_RR_TYPE_A, 5, true, {"q.example.test. 300 IN A 203.0.113.5"})));
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
    Decision d =
        feed(craft::udp(res, 53, cli, 33000, dns("ads.example.test.", qtype, 3, true, {rr})));
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

// ---- Fragmented answers (big EDNS answers from a resolver) ----

// An answer with `n` address records for qname: 60 A records make ~1.1 kB.
Bytes big_answer(const char* qname, ldns_rr_type qtype, uint16_t id, int n) {
  std::vector<std::string> rrs;
  for (int i = 1; i <= n; ++i) {
    rrs.push_back(std::string(qname) + " 300 IN " +
                  (qtype == LDNS_RR_TYPE_AAAA ? "AAAA 2001:db8::" + std::to_string(i)
                                              : "A 203.0.113." + std::to_string(i)));
  }
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_pkt_query_new_frm_str(&p, qname, qtype, LDNS_RR_CLASS_IN, LDNS_RD),
            LDNS_STATUS_OK);
  ldns_pkt_set_id(p, id);
  ldns_pkt_set_qr(p, true);
  for (const std::string& text : rrs) {
    ldns_rr* rr = nullptr;
    EXPECT_EQ(ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr), LDNS_STATUS_OK) << text;
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

// The answer datagram resolver:53 -> client:33000 in three fragments.
std::vector<Bytes> answer_fragments(const IpAddr& res, const IpAddr& cli, const Bytes& msg,
                                    uint32_t ip_id) {
  size_t chunk = ((msg.size() + 8 + 2) / 3 + 7) & ~size_t{7};
  size_t mtu_payload = chunk + (res.is_v6() ? 8 : 0);  // IPv6: room for the Fragment header
  std::vector<Bytes> frags =
      craft::fragment(craft::udp(res, 53, cli, 33000, msg), mtu_payload, ip_id);
  EXPECT_EQ(frags.size(), 3u);
  return frags;
}

constexpr const char* kEnforceV6 = R"(
[dns]
resolvers = ["fd00::53"]
[egress]
mode = "enforce"
)";

// In order and out of order, IPv4 and IPv6: every fragment passes, the address
// opens no later than the fragment that completes the answer is released.
TEST_F(DnsObserverTest, FragmentedTrustedAnswerOpensInAnyOrder) {
  struct Case {
    const char* name;
    bool v6;
    std::vector<int> order;  // indices into the fragments, in arrival order
  };
  const Case cases[] = {
      {"v4 in order", false, {0, 1, 2}},
      {"v4 reversed", false, {2, 1, 0}},
      {"v4 first, last, middle", false, {0, 2, 1}},
      {"v6 in order", true, {0, 1, 2}},
      {"v6 reversed", true, {2, 1, 0}},
      {"v6 middle first", true, {1, 0, 2}},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    start(tc.v6 ? kEnforceV6 : kEnforce);
    IpAddr cli = ip(tc.v6 ? "fd00::10" : "10.0.0.10"), res = ip(tc.v6 ? "fd00::53" : "10.0.0.53");
    ldns_rr_type qtype = tc.v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
    const char* opened = tc.v6 ? "2001:db8::7" : "203.0.113.7";
    const char* client = tc.v6 ? "fd00::10" : "10.0.0.10";
    feed(craft::udp(cli, 33000, res, 53, dns("big.example.test.", qtype, 21, false)));
    auto frags = answer_fragments(res, cli, big_answer("big.example.test.", qtype, 21, 60), 4242);
    ASSERT_EQ(frags.size(), 3u);
    for (size_t i = 0; i < tc.order.size(); ++i) {
      EXPECT_EQ(lookup(client, opened), DnsLookupStatus::Unknown) << "opened too early";
      Decision d = feed(frags[tc.order[i]]);
      EXPECT_EQ(d.verdict, Verdict::Accept) << "fragment " << tc.order[i] << ": " << d.reason;
      EXPECT_TRUE(d.replacement.empty());
    }
    EXPECT_EQ(lookup(client, opened), DnsLookupStatus::Open);
    EXPECT_EQ(lookup(client, tc.v6 ? "2001:db8::60" : "203.0.113.60"), DnsLookupStatus::Open);
    const Counters& c = worker_->counters();
    EXPECT_EQ(c.dns_fragments.get(), 3u);
    EXPECT_EQ(c.dns_reassembled.get(), 1u);
    EXPECT_EQ(c.dns_answers_trusted.get(), 1u);
    EXPECT_EQ(c.dns_fragments_dropped.get(), 0u);
    EXPECT_EQ(c.dns_parse_errors.get(), 0u);
    // The client may now connect.
    Decision conn = feed(craft::tcp(cli, 40000, ip(opened), 443, 0x02, 1, 0, {}));
    EXPECT_EQ(conn.verdict, Verdict::Accept) << conn.reason;
  }
}

// A fragmented answer nobody asked for opens nothing; its completing fragment
// is dropped, and so is that fragment sent again.
TEST_F(DnsObserverTest, FragmentedForgedAnswerIsDroppedAtCompletion) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "v6" : "v4");
    start(v6 ? kEnforceV6 : kEnforce);
    IpAddr cli = ip(v6 ? "fd00::10" : "10.0.0.10"), res = ip(v6 ? "fd00::53" : "10.0.0.53");
    ldns_rr_type qtype = v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
    feed(craft::udp(cli, 33000, res, 53, dns("big.example.test.", qtype, 21, false)));
    // Wrong transaction id.
    auto frags = answer_fragments(res, cli, big_answer("big.example.test.", qtype, 22, 60), 77);
    EXPECT_EQ(feed(frags[2]).verdict, Verdict::Accept);
    EXPECT_EQ(feed(frags[0]).verdict, Verdict::Accept);
    Decision last = feed(frags[1]);
    EXPECT_EQ(last.verdict, Verdict::Drop);
    EXPECT_EQ(last.reason, "dns-unmatched");
    Decision again = feed(frags[1]);
    EXPECT_EQ(again.verdict, Verdict::Drop);
    EXPECT_EQ(lookup(v6 ? "fd00::10" : "10.0.0.10", v6 ? "2001:db8::7" : "203.0.113.7"),
              DnsLookupStatus::Unknown);
    const Counters& c = worker_->counters();
    EXPECT_EQ(c.dns_answers_unmatched.get(), 1u);
    EXPECT_EQ(c.dns_reassembled.get(), 1u);
    EXPECT_EQ(c.dns_fragments_dropped.get(), 1u);  // the resent one
  }
}

// A blocked name's fragmented answer cannot be rewritten: its completing
// fragment is dropped (reason the list), and nothing opens.
TEST_F(DnsObserverTest, FragmentedBlockedAnswerIsDropped) {
  std::string toml = std::string("[dns]\nresolvers = [\"10.0.0.53\"]\nblock_lists = [\"") +
                     TRIPLINE_SOURCE_DIR +
                     "/tests/replay/dns-blocklist/block.txt\"]\n[egress]\nmode = \"enforce\"\n";
  start(toml.c_str());
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  feed(craft::udp(cli, 33000, res, 53, dns("ads.example.test.", LDNS_RR_TYPE_A, 5, false)));
  auto frags =
      answer_fragments(res, cli, big_answer("ads.example.test.", LDNS_RR_TYPE_A, 5, 60), 9);
  EXPECT_EQ(feed(frags[0]).verdict, Verdict::Accept);
  EXPECT_EQ(feed(frags[1]).verdict, Verdict::Accept);
  Decision last = feed(frags[2]);
  EXPECT_EQ(last.verdict, Verdict::Drop);
  EXPECT_EQ(last.reason, "blocklist:block.txt");
  EXPECT_TRUE(last.replacement.empty());
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.7"), DnsLookupStatus::Unknown);
  EXPECT_EQ(worker_->counters().dns_blocked.get(), 1u);
  EXPECT_EQ(worker_->counters().dns_rewritten.get(), 0u);
}

// Bounds: a partial answer older than the timeout is abandoned (its late
// fragment is dropped, nothing opens); more partial answers than the table
// holds get their fragments dropped.
TEST_F(DnsObserverTest, FragmentBoundsTimeoutAndTableFull) {
  start(kEnforce);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  feed(craft::udp(cli, 33000, res, 53, dns("big.example.test.", LDNS_RR_TYPE_A, 21, false)));
  auto frags =
      answer_fragments(res, cli, big_answer("big.example.test.", LDNS_RR_TYPE_A, 21, 60), 1);
  EXPECT_EQ(feed(frags[0]).verdict, Verdict::Accept);
  EXPECT_EQ(feed(frags[1]).verdict, Verdict::Accept);
  now_ += seconds(6);
  Decision late = feed(frags[2]);
  EXPECT_EQ(late.verdict, Verdict::Drop);
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.7"), DnsLookupStatus::Unknown);
  EXPECT_EQ(worker_->counters().dns_fragments_timed_out.get(), 1u);
  EXPECT_EQ(worker_->counters().dns_reassembled.get(), 0u);

  // 64 partial answers (first fragments only) fill the table; the 65th is dropped.
  Bytes msg = big_answer("big.example.test.", LDNS_RR_TYPE_A, 21, 60);
  for (uint32_t id = 100; id < 164; ++id) {
    auto f = answer_fragments(res, cli, msg, id);
    EXPECT_EQ(feed(f[0]).verdict, Verdict::Accept) << id;
  }
  auto f = answer_fragments(res, cli, msg, 164);
  Decision full = feed(f[0]);
  EXPECT_EQ(full.verdict, Verdict::Drop);
  EXPECT_EQ(worker_->counters().dns_fragments_table_full.get(), 1u);
  EXPECT_EQ(worker_->counters().dns_fragments_dropped.get(), 2u);
}

// Fragments that are not a resolver's answer are not held: they share their
// flow's decision as before.
TEST_F(DnsObserverTest, OtherFragmentsAreNotHeld) {
  start("[dns]\nresolvers = [\"10.0.0.53\"]\n");
  auto cli = ip("10.0.0.10"), srv = ip("192.0.2.9");
  Bytes payload(1500, 'x');
  auto frags = craft::fragment(craft::udp(srv, 4000, cli, 5000, payload), 512, 5);
  ASSERT_GE(frags.size(), 3u);
  for (const Bytes& f : frags) EXPECT_EQ(feed(f).verdict, Verdict::Accept);
  // The resolver's host, another port: also not DNS.
  auto rf = craft::fragment(craft::udp(ip("10.0.0.53"), 4000, cli, 5000, payload), 512, 6);
  for (const Bytes& f : rf) EXPECT_EQ(feed(f).verdict, Verdict::Accept);
  EXPECT_EQ(worker_->counters().dns_fragments.get(), 0u);
  EXPECT_EQ(worker_->counters().dns_reassembled.get(), 0u);
}

// The answer name policy runs as the chain "dns" (dns.allow, then dns.block);
// each rule counts its matches as rule.<name>, beside dns_blocked.
TEST_F(DnsObserverTest, NameRulesCountPerRule) {
  std::string lists = std::string(TRIPLINE_SOURCE_DIR) + "/tests/replay/dns-blocklist/";
  std::string toml = "[dns]\nresolvers = [\"10.0.0.53\"]\nblock_lists = [\"" + lists +
                     "block.txt\"]\nallow_lists = [\"" + lists + "allow.txt\"]\n";
  start(toml.c_str());
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  uint16_t id = 20;
  auto ask = [&](const char* name, std::initializer_list<const char*> rrs) {
    ++id;
    feed(craft::udp(cli, 33000, res, 53, dns(name, LDNS_RR_TYPE_A, id, false)));
    return feed(craft::udp(res, 53, cli, 33000, dns(name, LDNS_RR_TYPE_A, id, true, rrs)));
  };
  auto named = [&](const char* name) -> uint64_t {
    for (const auto& [n, c] : worker_->counters().named.items())
      if (n == name) return c.get();
    ADD_FAILURE() << "no counter " << name;
    return 0;
  };
  EXPECT_EQ(named("rule.dns.allow"), 0u);
  EXPECT_EQ(named("rule.dns.block"), 0u);

  Decision blocked = ask("x.ads.example.test.", {"x.ads.example.test. 300 IN A 203.0.113.50"});
  EXPECT_EQ(blocked.reason, "blocklist:block.txt");
  Decision allowed = ask("ok.ads.example.test.", {"ok.ads.example.test. 300 IN A 203.0.113.51"});
  EXPECT_EQ(allowed.verdict, Verdict::Accept);
  EXPECT_TRUE(allowed.replacement.empty());
  // Allowed through its CNAME target though the question is blocked.
  Decision via_cname = ask("www.ads.example.test.", {"www.ads.example.test. 300 IN CNAME "
                                                     "ok.ads.example.test.",
                                                     "ok.ads.example.test. 300 IN A 203.0.113.52"});
  EXPECT_TRUE(via_cname.replacement.empty());
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.52"), DnsLookupStatus::Open);
  Decision plain = ask("www.example.test.", {"www.example.test. 300 IN A 203.0.113.53"});
  EXPECT_TRUE(plain.replacement.empty());

  EXPECT_EQ(named("rule.dns.allow"), 2u);
  EXPECT_EQ(named("rule.dns.block"), 1u);
  EXPECT_EQ(worker_->counters().dns_blocked.get(), 1u);
  EXPECT_EQ(worker_->counters().dns_answers_trusted.get(), 4u);
}

constexpr const char* kModes[] = {"enforce", "monitor", "off"};

std::string config_with_mode(const char* mode) {
  return std::string("[dns]\nresolvers = [\"10.0.0.53\"]\n[egress]\nmode = \"") + mode + "\"\n";
}

// Only enforce drops an answer for being unmatched (unsolicited, duplicate,
// late) or malformed; monitor passes it and counts what enforce would have
// dropped; off only observes. None of them opens anything in any mode.
TEST_F(DnsObserverTest, UnmatchedAndMalformedAnswersDropOnlyInEnforce) {
  for (const char* mode : kModes) {
    SCOPED_TRACE(mode);
    std::string toml = config_with_mode(mode);
    start(toml.c_str());
    bool enforce = std::string(mode) == "enforce";
    auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
    auto answer = [&](const char* name, uint16_t id, const char* rr) {
      return feed(craft::udp(res, 53, cli, 33000, dns(name, LDNS_RR_TYPE_A, id, true, {rr})));
    };
    auto expect_refused = [&](const Decision& d, const char* reason) {
      if (enforce) {
        EXPECT_EQ(d.verdict, Verdict::Drop);
        EXPECT_EQ(d.reason, reason);
      } else {
        EXPECT_EQ(d.verdict, Verdict::Accept) << d.reason;
      }
    };
    feed(craft::udp(cli, 33000, res, 53, dns("one.example.test.", LDNS_RR_TYPE_A, 1, false)));
    Decision first = answer("one.example.test.", 1, "one.example.test. 300 IN A 203.0.113.1");
    EXPECT_EQ(first.verdict, Verdict::Accept) << first.reason;
    Decision dup = answer("one.example.test.", 1, "one.example.test. 300 IN A 203.0.113.2");
    expect_refused(dup, "dns-unmatched");
    Decision unsolicited = answer("two.example.test.", 2, "two.example.test. 300 IN A 203.0.113.3");
    expect_refused(unsolicited, "dns-unmatched");
    feed(craft::udp(cli, 33000, res, 53, dns("late.example.test.", LDNS_RR_TYPE_A, 3, false)));
    now_ += 11 * kNsPerSec;  // past query_timeout (10 s)
    Decision late = answer("late.example.test.", 3, "late.example.test. 300 IN A 203.0.113.4");
    expect_refused(late, "dns-unmatched");
    feed(craft::udp(cli, 33000, res, 53, dns("bad.example.test.", LDNS_RR_TYPE_A, 4, false)));
    Bytes bad = dns("bad.example.test.", LDNS_RR_TYPE_A, 4, true,
                    {"bad.example.test. 300 IN A 203.0.113.5"});
    bad[bad.size() - 5] = 3;  // RDLENGTH 4 -> 3: an A record of the wrong shape
    bad.pop_back();
    Decision malformed = feed(craft::udp(res, 53, cli, 33000, bad));
    expect_refused(malformed, "dns-malformed");

    EXPECT_EQ(lookup("10.0.0.10", "203.0.113.1"), DnsLookupStatus::Open);
    for (const char* a : {"203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"})
      EXPECT_EQ(lookup("10.0.0.10", a), DnsLookupStatus::Unknown) << a;
    const Counters& c = worker_->counters();
    EXPECT_EQ(c.dns_answers_trusted.get(), 1u);
    EXPECT_EQ(c.dns_answers_unmatched.get(), 3u);
    EXPECT_EQ(c.dns_answers_duplicate.get(), 1u);
    EXPECT_EQ(c.dns_answers_late.get(), 1u);
    EXPECT_EQ(c.dns_parse_errors.get(), 1u);
    EXPECT_EQ(c.dns_would_drop.get(), std::string(mode) == "monitor" ? 4u : 0u);
    EXPECT_EQ(c.verdict_drop.get(), enforce ? 4u : 0u);
  }
}

// A query with two questions, the first name pointing forward into the second,
// is remembered with both questions: the answer echoing both matches and opens
// its address; one echoing only the first question does not match.
TEST_F(DnsObserverTest, TwoQuestionQueryWithForwardPointerMatches) {
  start(kEnforce);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  auto message = [](uint8_t flags, bool both, bool with_answer) {
    Bytes m = {0x00,  0x2a,
               flags, 0x00,
               0x00,  static_cast<uint8_t>(both ? 2 : 1),
               0x00,  static_cast<uint8_t>(with_answer ? 1 : 0),
               0,     0,
               0,     0};
    Bytes q1 = {3, 'w', 'w', 'w', 0xc0, 22, 0x00, 0x01, 0x00, 0x01};  // www + -> offset 22
    Bytes q2 = {7,   'e', 'x', 'a', 'm', 'p',  'l',  'e',  4,
                't', 'e', 's', 't', 0,   0x00, 0x01, 0x00, 0x01};
    Bytes q1_alone = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a',  'm',  'p',  'l',
                      'e', 4,   't', 'e', 's', 't', 0,   0x00, 0x01, 0x00, 0x01};
    Bytes an = {0xc0, 12,   0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                0x01, 0x2c, 0x00, 0x04, 203,  0,    113,  42};
    if (both) {
      m.insert(m.end(), q1.begin(), q1.end());
      m.insert(m.end(), q2.begin(), q2.end());
    } else {
      m.insert(m.end(), q1_alone.begin(), q1_alone.end());
    }
    if (with_answer) m.insert(m.end(), an.begin(), an.end());
    return m;
  };
  feed(craft::udp(cli, 33000, res, 53, message(0x01, true, false)));
  Decision partial = feed(craft::udp(res, 53, cli, 33000, message(0x81, false, true)));
  EXPECT_EQ(partial.verdict, Verdict::Drop);
  EXPECT_EQ(partial.reason, "dns-unmatched");
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.42"), DnsLookupStatus::Unknown);
  Decision whole = feed(craft::udp(res, 53, cli, 33000, message(0x81, true, true)));
  EXPECT_EQ(whole.verdict, Verdict::Accept) << whole.reason;
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.42"), DnsLookupStatus::Open);
  const Counters& c = worker_->counters();
  EXPECT_EQ(c.dns_parse_errors.get(), 0u);
  EXPECT_EQ(c.dns_answers_trusted.get(), 1u);
  EXPECT_EQ(c.dns_answers_unmatched.get(), 1u);
}

// Answers whose header says they open nothing are not dropped for their shape,
// even in enforce: a header-only FORMERR (no question) passes as well-formed;
// a broken FORMERR passes as malformed. A question-less answer that carries
// records still matches no query.
TEST_F(DnsObserverTest, AnswersThatOpenNothingPassInEnforce) {
  start(kEnforce);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  feed(craft::udp(cli, 33000, res, 53, dns("odd.example.test.", LDNS_RR_TYPE_A, 0x77, false)));
  Bytes formerr = {0x00, 0x77, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
  Decision d = feed(craft::udp(res, 53, cli, 33000, formerr));
  EXPECT_EQ(d.verdict, Verdict::Accept) << d.reason;
  Bytes broken = formerr;
  broken[5] = 1;  // says one question, holds none
  d = feed(craft::udp(res, 53, cli, 33000, broken));
  EXPECT_EQ(d.verdict, Verdict::Accept) << d.reason;
  Bytes with_records = {0x00, 0x77, 0x81, 0x80, 0,    0,    0,    1,    0,    0,
                        0,    0,    1,    'x',  0,    0x00, 0x01, 0x00, 0x01, 0x00,
                        0x00, 0x01, 0x2c, 0x00, 0x04, 203,  0,    113,  77};
  d = feed(craft::udp(res, 53, cli, 33000, with_records));
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "dns-unmatched");
  const Counters& c = worker_->counters();
  EXPECT_EQ(c.dns_answers_no_question.get(), 1u);
  EXPECT_EQ(c.dns_parse_errors.get(), 1u);
  EXPECT_EQ(c.dns_answers_unmatched.get(), 1u);
  EXPECT_EQ(c.verdict_drop.get(), 1u);
}

// An answer the capture cut short (snaplen) is not malformed: it is counted as
// truncated by the capture, passes (it opens nothing), and leaves the query
// outstanding, so the complete answer after it still matches.
TEST_F(DnsObserverTest, AnswerCutByCaptureIsNotMalformed) {
  start(kEnforce);
  auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
  feed(craft::udp(cli, 33000, res, 53, dns("cut.example.test.", LDNS_RR_TYPE_A, 0x55, false)));
  Bytes full = craft::udp(res, 53, cli, 33000,
                          dns("cut.example.test.", LDNS_RR_TYPE_A, 0x55, true,
                              {"cut.example.test. 300 IN A 203.0.113.55"}));
  Bytes cut(full.begin(), full.end() - 6);
  Decision d = feed(cut);
  EXPECT_EQ(d.verdict, Verdict::Accept) << d.reason;
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.55"), DnsLookupStatus::Unknown);
  const Counters& c = worker_->counters();
  EXPECT_EQ(c.dns_truncated_by_capture.get(), 1u);
  EXPECT_EQ(c.dns_parse_errors.get(), 0u);
  d = feed(full);
  EXPECT_EQ(d.verdict, Verdict::Accept) << d.reason;
  EXPECT_EQ(lookup("10.0.0.10", "203.0.113.55"), DnsLookupStatus::Open);
}

// In monitor, a fragmented answer nobody asked for passes too (counted as
// would-drop); without a block list, fragments the bounds refuse (a partial
// answer abandoned after its timeout, a full table) pass as well. With a block
// list, which must judge every answer, they are dropped in monitor too.
TEST_F(DnsObserverTest, FragmentedAnswersPassInMonitorUnlessABlockListJudges) {
  for (bool block_list : {false, true}) {
    SCOPED_TRACE(block_list ? "block list" : "no block list");
    std::string toml = block_list
                           ? std::string("[dns]\nresolvers = [\"10.0.0.53\"]\nblock_lists = [\"") +
                                 TRIPLINE_SOURCE_DIR +
                                 "/tests/replay/dns-blocklist/block.txt\"]\n[egress]\nmode = "
                                 "\"monitor\"\n"
                           : config_with_mode("monitor");
    start(toml.c_str());
    auto cli = ip("10.0.0.10"), res = ip("10.0.0.53");
    feed(craft::udp(cli, 33000, res, 53, dns("big.example.test.", LDNS_RR_TYPE_A, 21, false)));
    Bytes forged = big_answer("big.example.test.", LDNS_RR_TYPE_A, 22, 60);  // wrong id
    for (const Bytes& f : answer_fragments(res, cli, forged, 77))
      EXPECT_EQ(feed(f).verdict, Verdict::Accept);
    EXPECT_EQ(lookup("10.0.0.10", "203.0.113.7"), DnsLookupStatus::Unknown);

    Verdict bounded = block_list ? Verdict::Drop : Verdict::Accept;
    auto slow = answer_fragments(res, cli, forged, 2);
    feed(slow[0]);
    feed(slow[1]);
    now_ += seconds(6);
    EXPECT_EQ(feed(slow[2]).verdict, bounded);  // its partial answer was abandoned
    for (uint32_t id = 100; id < 164; ++id) feed(answer_fragments(res, cli, forged, id)[0]);
    EXPECT_EQ(feed(answer_fragments(res, cli, forged, 164)[0]).verdict, bounded);  // table full

    const Counters& c = worker_->counters();
    EXPECT_EQ(c.dns_answers_unmatched.get(), 1u);
    EXPECT_EQ(c.dns_fragments_table_full.get(), 1u);
    EXPECT_EQ(c.dns_would_drop.get(), block_list ? 1u : 3u);
    EXPECT_EQ(c.dns_fragments_dropped.get(), block_list ? 2u : 0u);
  }
}

}  // namespace
}  // namespace tripline
