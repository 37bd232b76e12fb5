// Trigger scripts have the last word (on_flow after the policy, also on the
// flows it blocks) and see trusted DNS answers (on_dns): lua_triggers.cpp with
// the policy stage and the DNS observer, through a whole worker.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "counters.h"
#include "dns_wire_builder.h"
#include "event_writer.h"
#include "lua_triggers.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "worker.h"

namespace tripline {
namespace {

using Bytes = std::vector<uint8_t>;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

constexpr uint8_t kSyn = 0x02;
constexpr const char* kEgress =
    "[dns]\nresolvers = [\"10.0.0.53\"]\n[egress]\nmode = \"enforce\"\naction = \"drop\"\n"
    "[network]\ninside = [\"10.0.0.0/8\"]\n";

class LuaLastWordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("lua_lastword_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    meta_.src_mac = *MacAddr::parse("02:00:00:00:00:0a");
  }
  void TearDown() override {
    worker_.reset();
    pipeline_.reset();
    events_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(const std::string& code, const std::string& extra = kEgress) {
    auto path = dir_ / "triggers.lua";
    std::ofstream(path) << code;
    std::string toml = "[lua]\nscript = \"" + path.string() + "\"\n" + extra;
    cfg_ = std::make_shared<Config>(Config::load_string(toml, "<test>"));
    pipeline_ = std::make_unique<Pipeline>(cfg_, Pipeline::Mode::Replay);
    events_ = std::make_unique<EventWriter>((dir_ / "events.json").string(), 1024);
    worker_ = std::make_unique<Worker>(cfg_, 0, events_.get());
    pipeline_->stage_factory()(*worker_);
  }

  // Packets from the client carry its link-layer address, as replay's would.
  Decision feed(const Bytes& packet, bool from_client = true) {
    now_ += kNsPerSec / 100;
    return worker_->process(LinkType::Raw, packet, now_, from_client ? meta_ : kNoPacketMeta);
  }
  Decision syn(const char* dst, uint16_t dport, uint16_t sport) {
    return feed(craft::tcp(cli_, sport, ip(dst), dport, kSyn, 1, 0, {}));
  }
  void query(const char* qname, uint16_t id, uint16_t sport, ldns_rr_type type = LDNS_RR_TYPE_A) {
    feed(craft::udp(cli_, sport, res_, 53, test::build_dns(qname, type, {}, false, id)));
  }
  Decision answer(const char* qname, uint16_t id, uint16_t sport,
                  std::initializer_list<const char*> records, ldns_rr_type type = LDNS_RR_TYPE_A) {
    return feed(craft::udp(res_, 53, cli_, sport, test::build_dns(qname, type, records, true, id)),
                false);
  }
  const Counters& counters() { return worker_->counters(); }
  std::string events_text() {
    events_->flush();
    std::ifstream in(dir_ / "events.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::filesystem::path dir_;
  std::shared_ptr<Config> cfg_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<Worker> worker_;
  PacketMeta meta_;
  IpAddr cli_ = ip("10.0.0.2"), res_ = ip("10.0.0.53");
  Timestamp now_ = 1767225600 * kNsPerSec;
};

TEST_F(LuaLastWordTest, BlockedFlowsReachOnFlowWhichMayOpenThem) {
  start(R"(
function on_flow(f)
  if f.policy_verdict == "drop" and f.policy_reason == "unresolved" and f.dest_port == 443 then
    return "accept"
  end
end)");
  Decision opened = syn("198.51.100.7", 443, 40000);
  EXPECT_EQ(opened.verdict, Verdict::Accept);
  EXPECT_EQ(opened.reason, "lua");
  // Later packets of the flow keep the script's verdict.
  EXPECT_EQ(syn("198.51.100.7", 443, 40000).verdict, Verdict::Accept);
  Decision kept = syn("198.51.100.7", 80, 40001);  // nil: the policy's block stands
  EXPECT_EQ(kept.verdict, Verdict::Drop);
  EXPECT_EQ(kept.reason, "unresolved");
  EXPECT_EQ(counters().lua_calls.get(), 2u);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
}

TEST_F(LuaLastWordTest, OnFlowSeesWhatThePolicyAcceptedAndMayDropIt) {
  start(R"(
function on_flow(f)
  if f.policy_verdict == "accept" and f.policy_reason == "dns" then return "drop" end
  if f.policy_reason == "default" and f.policy_verdict == "accept" then return "reject" end
end)");
  query("web.example.test.", 11, 33000);
  answer("web.example.test.", 11, 33000, {"web.example.test. 300 IN A 198.51.100.9"});
  Decision d = syn("198.51.100.9", 443, 40000);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "lua");
  // Inside traffic is not the egress policy's: the default decides, the script replaces it.
  Decision r = syn("10.0.0.9", 22, 40001);
  EXPECT_EQ(r.verdict, Verdict::Reject);
  EXPECT_EQ(r.reason, "lua");
}

TEST_F(LuaLastWordTest, EgressAlertOnlyWhenTheBlockStands) {
  start(R"(
function on_flow(f)
  if f.dest_port == 443 then return "accept" end
  if f.dest_port == 25 then return "reject" end
end)");
  syn("198.51.100.7", 443, 40000);  // opened by the script: no egress alert
  syn("198.51.100.7", 80, 40001);   // blocked: alert
  syn("198.51.100.7", 25, 40002);   // still blocked (by the script): alert, blocked
  std::string ev = events_text();
  EXPECT_EQ(count(ev, "\"event_type\":\"alert\""), 2u) << ev;
  EXPECT_EQ(count(ev, "\"dest_port\":443,\"proto\":\"TCP\",\"alert\""), 0u) << ev;
  EXPECT_EQ(count(ev, "\"action\":\"blocked\""), 2u) << ev;
}

TEST_F(LuaLastWordTest, CaptureAndAlertWorkOnBlockedFlows) {
  start(R"(
function on_flow(f)
  if f.policy_verdict ~= "accept" then
    local id, why = tripline.capture{scope = "host", label = "blocked"}
    if not id then error(why) end
    tripline.alert{signature = "tried " .. f.dest_ip .. " " .. f.policy_reason}
  end
end)",
        std::string(kEgress) + "[capture]\ndir = \"" + (dir_ / "cap").string() + "\"\n");
  Decision d = syn("198.51.100.7", 443, 40000);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
  EXPECT_EQ(counters().capture_sessions_started.get(), 1u);
  std::string ev = events_text();
  EXPECT_NE(ev.find("\"signature\":\"tried 198.51.100.7 unresolved\""), std::string::npos) << ev;
  EXPECT_EQ(count(ev, "\"action\":\"blocked\""), 2u) << ev;  // the script's and the egress alert
}

TEST_F(LuaLastWordTest, AnErrorOnABlockedFlowKeepsTheBlockForTheFlow) {
  start(R"(
function on_flow(f) error("broken") end)",
        std::string(kEgress));
  Decision first = syn("198.51.100.7", 443, 40000);
  EXPECT_EQ(first.verdict, Verdict::Accept);  // this packet: default_verdict
  EXPECT_EQ(first.reason, "lua-error");
  Decision later = syn("198.51.100.7", 443, 40000);
  EXPECT_EQ(later.verdict, Verdict::Drop);  // the flow: the policy's decision
  EXPECT_EQ(later.reason, "unresolved");
  EXPECT_EQ(counters().lua_errors.get(), 1u);
  std::string ev = events_text();  // the flow stays blocked: the egress alert stands
  EXPECT_EQ(count(ev, "\"event_type\":\"alert\""), 1u) << ev;
  EXPECT_EQ(count(ev, "\"action\":\"blocked\""), 1u) << ev;
}

TEST_F(LuaLastWordTest, FlowObjectNamesTheClientHost) {
  start(R"(
function on_flow(f)
  if f.client_host == "02:00:00:00:00:0a" then return "accept" end
  if f.client_host == nil then return "reject" end
end)");
  EXPECT_EQ(syn("198.51.100.7", 443, 40000).reason, "lua");
  EXPECT_EQ(syn("198.51.100.7", 443, 40000).verdict, Verdict::Accept);
  meta_ = PacketMeta{};  // a client whose link-layer address is not known
  EXPECT_EQ(syn("198.51.100.7", 443, 40001).verdict, Verdict::Reject);
}

TEST_F(LuaLastWordTest, OnDnsSeesTheAnswer) {
  start(R"(
seen = nil
function on_dns(d)
  local a = d.answers
  local s = table.concat({d.client, tostring(d.client_host), d.resolver, d.resolver_port, d.id,
    d.proto, d.qname, d.qtype, d.rcode, #a, a[1].name, a[1].type, a[1].ttl, a[1].data,
    a[2].data, table.concat(d.chain, ">"), table.concat(d.addresses, ","),
    tostring(d.blocked_by)}, " ")
  tripline.alert{signature = s}
end)");
  query("www.example.test.", 21, 33000);
  Decision d = answer("www.example.test.", 21, 33000,
                      {"www.example.test. 300 IN CNAME edge.example.test.",
                       "edge.example.test. 60 IN A 198.51.100.9"});
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
  EXPECT_EQ(counters().dns_addresses_opened.get(), 1u);
  EXPECT_EQ(syn("198.51.100.9", 443, 40000).reason, "dns");  // nil: the answer opened it
  std::string ev = events_text();
  EXPECT_NE(ev.find("10.0.0.2 02:00:00:00:00:0a 10.0.0.53 53 21 udp www.example.test A NOERROR 2 "
                    "www.example.test CNAME 300 edge.example.test 198.51.100.9 "
                    "www.example.test>edge.example.test 198.51.100.9 nil"),
            std::string::npos)
      << ev;
}

TEST_F(LuaLastWordTest, OnDnsDropOpensNothing) {
  start(R"(
function on_dns(d)
  if d.qname == "bad.example.test" then return "drop" end
end)");
  query("bad.example.test.", 31, 33000);
  Decision d = answer("bad.example.test.", 31, 33000, {"bad.example.test. 300 IN A 198.51.100.66"});
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "lua");
  EXPECT_EQ(counters().dns_addresses_opened.get(), 0u);
  EXPECT_EQ(syn("198.51.100.66", 443, 40000).reason, "unresolved");
  query("ok.example.test.", 32, 33001);
  EXPECT_EQ(
      answer("ok.example.test.", 32, 33001, {"ok.example.test. 300 IN A 198.51.100.67"}).verdict,
      Verdict::Accept);
  EXPECT_EQ(syn("198.51.100.67", 443, 40001).reason, "dns");
  EXPECT_NE(events_text().find("\"dns_status\":\"lua-drop\""), std::string::npos);
}

TEST_F(LuaLastWordTest, OnDnsBlockAnswersAsABlockedName) {
  start(R"(
function on_dns(d)
  if d.qname == "bad.example.test" then return "block" end
end)",
        "[dns]\nresolvers = [\"10.0.0.53\"]\nblock_mode = \"nxdomain\"\n[egress]\nmode = "
        "\"enforce\"\n");
  query("bad.example.test.", 41, 33000);
  Decision d = answer("bad.example.test.", 41, 33000, {"bad.example.test. 300 IN A 198.51.100.66"});
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.reason, "lua");
  EXPECT_FALSE(d.replacement.empty());  // rewritten to NXDOMAIN
  EXPECT_EQ(counters().dns_rewritten.get(), 1u);
  EXPECT_EQ(counters().dns_addresses_opened.get(), 0u);
  EXPECT_EQ(syn("198.51.100.66", 443, 40000).reason, "unresolved");
}

TEST_F(LuaLastWordTest, OnDnsErrorsGetTheDefaultHandlingAndAreCounted) {
  start(R"(
function on_dns(d)
  if d.qname == "loop.example.test" then while true do end end
  if d.qname == "odd.example.test" then return "reject" end
  error("broken")
end)",
        std::string(kEgress) + "[queue]\ndefault_verdict = \"drop\"\n");
  query("loop.example.test.", 51, 33000);
  Decision d =
      answer("loop.example.test.", 51, 33000, {"loop.example.test. 300 IN A 198.51.100.1"});
  EXPECT_EQ(d.verdict, Verdict::Drop);  // default_verdict
  EXPECT_EQ(d.reason, "lua-error");
  EXPECT_EQ(counters().lua_budget_exceeded.get() + counters().lua_time_exceeded.get(), 1u);
  query("odd.example.test.", 52, 33001);
  EXPECT_EQ(
      answer("odd.example.test.", 52, 33001, {"odd.example.test. 300 IN A 198.51.100.2"}).reason,
      "lua-error");
  query("err.example.test.", 53, 33002);
  answer("err.example.test.", 53, 33002, {"err.example.test. 300 IN A 198.51.100.3"});
  EXPECT_EQ(counters().lua_errors.get(), 3u);
  EXPECT_EQ(counters().dns_addresses_opened.get(), 0u);  // nothing dropped was opened
}

TEST_F(LuaLastWordTest, OnDnsErrorWithDefaultAcceptPassesTheAnswer) {
  start("function on_dns(d) error('broken') end");
  query("web.example.test.", 61, 33000);
  Decision d = answer("web.example.test.", 61, 33000, {"web.example.test. 300 IN A 198.51.100.9"});
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(counters().lua_errors.get(), 1u);
  EXPECT_EQ(syn("198.51.100.9", 443, 40000).reason, "dns");
}

TEST_F(LuaLastWordTest, OnDnsObjectDiesWithTheCall) {
  start(R"(
kept = nil
function on_dns(d) kept = d end
function on_flow(f)
  local ok = pcall(function() return kept.qname end)
  if kept ~= nil and not ok then return "accept" end
  return "drop"
end)");
  query("web.example.test.", 71, 33000);
  answer("web.example.test.", 71, 33000, {"web.example.test. 300 IN A 198.51.100.9"});
  EXPECT_EQ(syn("198.51.100.9", 443, 40000).reason, "lua");
  EXPECT_EQ(syn("198.51.100.9", 443, 40000).verdict, Verdict::Accept);
}

TEST_F(LuaLastWordTest, AScriptWithOnlyOnDnsLoads) {
  start("function on_dns(d) end");
  query("web.example.test.", 81, 33000);
  answer("web.example.test.", 81, 33000, {"web.example.test. 300 IN A 198.51.100.9"});
  EXPECT_EQ(counters().lua_calls.get(), 1u);
  syn("198.51.100.9", 443, 40000);
  EXPECT_EQ(counters().lua_calls.get(), 1u);  // no on_flow: no call per flow
}

}  // namespace
}  // namespace tripline
