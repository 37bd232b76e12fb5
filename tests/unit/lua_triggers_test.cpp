#include "lua_triggers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "counters.h"
#include "dns_wire_builder.h"
#include "event_writer.h"
#include "packet_craft.h"
#include "pipeline.h"
#include "worker.h"

namespace tripline {
namespace {

using Bytes = std::vector<uint8_t>;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

constexpr uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08;

// A worker whose pipeline runs one trigger script.
class LuaTriggersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("lua_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    worker_.reset();
    pipeline_.reset();
    events_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string write_script(const std::string& code) {
    auto path = dir_ / "triggers.lua";
    std::ofstream(path) << code;
    return path.string();
  }

  // extra: more TOML after [lua] script = ...
  void start(const std::string& code, const std::string& extra = "", bool events = false) {
    std::string toml = "[lua]\nscript = \"" + write_script(code) + "\"\n" + extra;
    cfg_ = std::make_shared<Config>(Config::load_string(toml, "<test>"));
    pipeline_ = std::make_unique<Pipeline>(cfg_, Pipeline::Mode::Replay);
    if (events) events_ = std::make_unique<EventWriter>((dir_ / "events.json").string(), 1024);
    worker_ = std::make_unique<Worker>(cfg_, 0, events_.get());
    pipeline_->stage_factory()(*worker_);
  }

  Decision feed(const Bytes& packet) {
    now_ += kNsPerSec / 100;
    return worker_->process(LinkType::Raw, packet, now_);
  }
  // A client's TCP SYN to dst:dport from sport.
  Decision syn(const char* dst, uint16_t dport, uint16_t sport = 40000) {
    return feed(craft::tcp(ip("10.0.0.2"), sport, ip(dst), dport, kSyn, 1, 0, {}));
  }
  Decision data(const char* dst, uint16_t dport, uint16_t sport, std::string_view text) {
    return feed(craft::tcp(ip("10.0.0.2"), sport, ip(dst), dport, kAck | kPsh, 2, 1,
                           std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  }
  const Counters& counters() { return worker_->counters(); }
  std::string events_text() {
    events_->flush();
    std::ifstream in(dir_ / "events.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path dir_;
  std::shared_ptr<Config> cfg_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<Worker> worker_;
  Timestamp now_ = 1767225600 * kNsPerSec;
};

TEST_F(LuaTriggersTest, OnFlowVerdictDecidesTheFlow) {
  start(R"(
function on_flow(f)
  if f.dest_port == 23 then return "drop" end
  if f.dest_port == 25 then return "reject" end
  if f.dest_port == 443 then return "accept" end
end)");
  Decision d = syn("198.51.100.7", 23);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.reason, "lua");
  // Later packets of the flow keep the script's verdict without another call.
  EXPECT_EQ(data("198.51.100.7", 23, 40000, "x").verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_calls.get(), 1u);

  Decision r = syn("198.51.100.7", 25, 40001);
  EXPECT_EQ(r.verdict, Verdict::Reject);
  EXPECT_TRUE(r.has_mark);
  EXPECT_EQ(r.mark, cfg_->egress.reject_mark);

  EXPECT_EQ(syn("198.51.100.7", 443, 40002).verdict, Verdict::Accept);
  Decision none = syn("198.51.100.7", 80, 40003);  // nil: the default applies
  EXPECT_EQ(none.verdict, Verdict::Accept);
  EXPECT_EQ(none.reason, "default");
  EXPECT_EQ(counters().lua_verdicts.get(), 3u);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
}

TEST_F(LuaTriggersTest, FlowFieldsAreVisible) {
  start(R"(
seen = {}
function on_flow(f)
  local ok = f.src_ip == "10.0.0.2" and f.src_port == 40000 and f.dest_ip == "198.51.100.7"
    and f.dest_port == 80 and f.proto == "TCP" and f.ip_version == 4 and f.dir == "toserver"
    and f.new == true and f.dns_name == nil and f.flow_id > 0 and f.state == "new"
    and f.tcp_flags == 2 and f.payload_len == 0 and f.len == 40
    and math.abs(f.time - tripline.now()) < 1e-6 and f.pkts_toserver == 1
    and tostring(f):find("198.51.100.7:80", 1, true) ~= nil
  if not ok then error("unexpected field values: " .. tostring(f)) end
  return "drop"
end)");
  EXPECT_EQ(syn("198.51.100.7", 80).verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
}

TEST_F(LuaTriggersTest, OnPacketSeesOnlyWatchedFlows) {
  start(R"(
function on_flow(f)
  if f.dest_port == 80 then tripline.watch() end
end
function on_packet(p)
  if tripline.payload():find("EVIL", 1, true) then return "drop" end
end)");
  // Unwatched flow: one call for on_flow, none for its packets.
  syn("198.51.100.7", 22, 41000);
  for (int i = 0; i < 5; ++i) data("198.51.100.7", 22, 41000, "EVIL");
  EXPECT_EQ(counters().lua_calls.get(), 1u);
  // Watched flow: on_flow plus on_packet for every packet, the first included.
  syn("198.51.100.7", 80, 42000);
  EXPECT_EQ(counters().lua_calls.get(), 3u);
  EXPECT_EQ(data("198.51.100.7", 80, 42000, "GET /").verdict, Verdict::Accept);
  EXPECT_EQ(data("198.51.100.7", 80, 42000, "xxEVILxx").verdict, Verdict::Drop);
  EXPECT_EQ(data("198.51.100.7", 80, 42000, "more").verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_calls.get(), 6u);
}

TEST_F(LuaTriggersTest, PayloadRanges) {
  start(R"(
function on_flow(f) tripline.watch() end
function on_packet(p)
  if p.payload_len == 0 then return nil end
  assert(tripline.payload() == "abcdef")
  assert(tripline.payload(2, 3) == "bc")
  assert(tripline.payload(-2) == "ef")
  assert(tripline.payload(5, 100) == "ef")
  assert(tripline.payload(4, 2) == "")
  return "drop"
end)");
  syn("198.51.100.7", 80);
  EXPECT_EQ(data("198.51.100.7", 80, 40000, "abcdef").verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
}

TEST_F(LuaTriggersTest, RunawayScriptIsCutOffAndTrafficGetsTheDefault) {
  start(R"(
function on_flow(f)
  if f.dest_port == 1 then while true do end end
  if f.dest_port == 2 then while true do pcall(function() while true do end end) end end
  return "drop"
end)",
        "budget = 10000\n[queue]\ndefault_verdict = \"accept\"\n");
  Decision d = syn("198.51.100.7", 1, 40000);
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.reason, "lua-error");
  EXPECT_EQ(counters().lua_budget_exceeded.get(), 1u);
  // pcall cannot swallow the budget.
  EXPECT_EQ(syn("198.51.100.7", 2, 40001).reason, "lua-error");
  EXPECT_EQ(counters().lua_budget_exceeded.get(), 2u);
  // The state still works.
  EXPECT_EQ(syn("198.51.100.7", 3, 40002).verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_errors.get(), 2u);
}

TEST_F(LuaTriggersTest, MemoryLimitFailsTheCallNotTheProcess) {
  start(R"(
hog = {}
function on_flow(f)
  if f.dest_port == 1 then
    for i = 1, 1e9 do hog[i] = string.rep("x", 1000) .. i end
  end
  hog = {}
  return "drop"
end)",
        "memory_mb = 4\nbudget = 100000000\n[queue]\ndefault_verdict = \"drop\"\n");
  Decision d = syn("198.51.100.7", 1, 40000);
  EXPECT_EQ(d.verdict, Verdict::Drop);  // the configured default
  EXPECT_EQ(d.reason, "lua-error");
  EXPECT_EQ(counters().lua_errors.get(), 1u);
  EXPECT_EQ(counters().lua_budget_exceeded.get(), 0u);
  EXPECT_EQ(syn("198.51.100.7", 2, 40001).reason, "lua");
}

TEST_F(LuaTriggersTest, SandboxHasOnlySafeLibraries) {
  start(R"(
function on_flow(f)
  for _, name in ipairs({"io", "os", "debug", "package", "require", "dofile", "loadfile", "load",
                         "collectgarbage", "coroutine", "xpcall"}) do
    if _G[name] ~= nil then error(name .. " is reachable") end
  end
  if string.dump ~= nil then error("string.dump is reachable") end
  assert(table.concat and string.format and math.floor and utf8.char)
  return "drop"
end)");
  EXPECT_EQ(syn("198.51.100.7", 80).verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
}

TEST_F(LuaTriggersTest, KeptObjectsDieWithTheirCallback) {
  start(R"(
function on_flow(f)
  if old then
    local ok, err = pcall(function() return old.dest_port end)
    if ok or not err:find("only inside the callback", 1, true) then
      error("a stale object was readable")
    end
    return "drop"
  end
  old = f
end)");
  syn("198.51.100.7", 80, 40000);
  EXPECT_EQ(syn("198.51.100.7", 80, 40001).verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
}

TEST_F(LuaTriggersTest, BadReturnValueIsAnError) {
  start(R"(function on_flow(f) if f.dest_port == 1 then return "allow" end return 42 end)",
        "[queue]\ndefault_verdict = \"drop\"\n");
  EXPECT_EQ(syn("198.51.100.7", 1, 40000).reason, "lua-error");
  EXPECT_EQ(syn("198.51.100.7", 2, 40001).reason, "lua-error");
  EXPECT_EQ(counters().lua_errors.get(), 2u);
}

TEST_F(LuaTriggersTest, ScriptIsTurnedOffAfterConsecutiveErrors) {
  start(R"(function on_flow(f) error("boom") end)", "max_consecutive_errors = 3\n");
  for (uint16_t p = 1; p <= 5; ++p) syn("198.51.100.7", p, 40000);
  EXPECT_EQ(counters().lua_errors.get(), 3u);
  EXPECT_EQ(counters().lua_disabled.get(), 1u);
  EXPECT_EQ(counters().lua_calls.get(), 3u);
}

TEST_F(LuaTriggersTest, OnFlowEndSeesTheTotals) {
  start(R"(
ends = 0
function on_flow_end(f)
  ends = ends + 1
  if f.reason ~= "shutdown" or f.pkts_toserver ~= 2 or f.dir ~= nil then
    error("unexpected end: " .. tostring(f.reason) .. " " .. tostring(f.pkts_toserver))
  end
  tripline.alert{signature = "flow ended", severity = 2}
end)",
        "", /*events=*/true);
  syn("198.51.100.7", 80);
  data("198.51.100.7", 80, 40000, "hi");
  worker_->shutdown(now_);
  EXPECT_EQ(counters().lua_calls.get(), 1u);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
  std::string ev = events_text();
  EXPECT_NE(ev.find("\"signature\":\"flow ended\""), std::string::npos) << ev;
}

// The DNS name a flow was reached by (set by the egress stage) stays readable
// through the flow's end: in on_flow_end, and for stragglers of a closed TCP
// flow that a script still watches.
TEST_F(LuaTriggersTest, DnsNameLastsUntilTheFlowIsGone) {
  start(R"(
function on_flow(f)
  if f.dest_port ~= 443 then return end  -- the DNS exchange
  if f.dns_name ~= "web.example.test" then error("on_flow: " .. tostring(f.dns_name)) end
  tripline.watch()
end
function on_packet(f)
  if f.dns_name ~= "web.example.test" then error("on_packet: " .. tostring(f.dns_name)) end
end
function on_flow_end(f)
  tripline.alert{signature = "ended " .. tostring(f.dns_name)}
end)",
        "[dns]\nresolvers = [\"10.0.0.53\"]\n[egress]\nmode = \"enforce\"\n"
        "[network]\ninside = [\"10.0.0.0/8\"]\n",
        /*events=*/true);
  IpAddr cli = ip("10.0.0.2"), res = ip("10.0.0.53"), web = ip("198.51.100.9");
  feed(craft::udp(cli, 33000, res, 53,
                  test::build_dns("web.example.test.", LDNS_RR_TYPE_A, {}, false, 11)));
  feed(craft::udp(res, 53, cli, 33000,
                  test::build_dns("web.example.test.", LDNS_RR_TYPE_A,
                                  {"web.example.test. 300 IN A 198.51.100.9"}, true, 11)));
  constexpr uint8_t kFin = 0x01;
  EXPECT_EQ(feed(craft::tcp(cli, 40000, web, 443, kSyn, 1, 0, {})).reason, "dns");
  feed(craft::tcp(web, 443, cli, 40000, kSyn | kAck, 100, 2, {}));
  feed(craft::tcp(cli, 40000, web, 443, kFin | kAck, 2, 101, {}));
  feed(craft::tcp(web, 443, cli, 40000, kFin | kAck, 101, 3, {}));  // closed: the flow ends
  feed(craft::tcp(cli, 40000, web, 443, kAck, 3, 102, {}));         // a straggler
  EXPECT_EQ(counters().flows_ended.get(), 1u);  // the TCP flow (the DNS one lasts)
  EXPECT_EQ(counters().lua_errors.get(), 0u);
  std::string ev = events_text();
  EXPECT_NE(ev.find("\"signature\":\"ended web.example.test\""), std::string::npos) << ev;
  EXPECT_NE(ev.find("\"dns_name\":\"web.example.test\""), std::string::npos) << ev;
}

TEST_F(LuaTriggersTest, AlertsCarryTheVerdict) {
  start(R"(
function on_flow(f)
  if f.dest_port == 25 then
    tripline.alert{signature = "smtp", signature_id = 1000025, rev = 4}
  else
    tripline.alert{signature = "telnet attempt", category = "policy", severity = 1}
  end
  if f.dest_port == 23 then return "drop" end
end)",
        "", /*events=*/true);
  syn("198.51.100.7", 23, 40000);
  syn("198.51.100.7", 24, 40001);
  syn("198.51.100.7", 25, 40002);
  std::string ev = events_text();
  // Without signature_id a script's alert has tripline's id for triggers.
  EXPECT_NE(ev.find("\"alert\":{\"action\":\"blocked\",\"gid\":1,\"signature_id\":9100003,"
                    "\"rev\":1,\"signature\":\"telnet attempt\",\"category\":\"policy\","
                    "\"severity\":1}"),
            std::string::npos)
      << ev;
  EXPECT_NE(ev.find("\"dest_port\":24,\"proto\":\"TCP\","), std::string::npos) << ev;
  EXPECT_NE(ev.find("\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":9100003"),
            std::string::npos)
      << ev;
  EXPECT_NE(ev.find("\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":1000025,"
                    "\"rev\":4,\"signature\":\"smtp\""),
            std::string::npos)
      << ev;
}

TEST_F(LuaTriggersTest, AlertIdsMustBePositive32BitIntegers) {
  start(R"(
function on_flow(f)
  tripline.alert{signature = "x", signature_id = 0}
end)",
        "", /*events=*/true);
  syn("198.51.100.7", 23, 40000);
  EXPECT_EQ(counters().lua_errors.get(), 1u);
  EXPECT_EQ(events_text().find("\"alert\""), std::string::npos);
}

TEST_F(LuaTriggersTest, CaptureWithoutCaptureConfiguredSaysSo) {
  start(R"(
function on_flow(f)
  local id, why = tripline.capture{scope = "flow", seconds = 5}
  if id == nil and why:find("not configured") then return "drop" end
end)");
  EXPECT_EQ(syn("198.51.100.7", 80).verdict, Verdict::Drop);
}

TEST_F(LuaTriggersTest, LoadErrorsNameFileAndLine) {
  auto load = [&](const std::string& code) -> std::string {
    std::string toml = "[lua]\nscript = \"" + write_script(code) + "\"\n";
    auto cfg = std::make_shared<Config>(Config::load_string(toml, "<test>"));
    try {
      Pipeline p(cfg, Pipeline::Mode::Check);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(load("function on_flow(f)\n  return (\nend\n").find("triggers.lua:3:"),
            std::string::npos);
  EXPECT_NE(load("x = 1\n").find("defines none of"), std::string::npos);
  EXPECT_NE(load("on_flow = 5\n").find("on_flow is a number"), std::string::npos);
  EXPECT_NE(
      load("tripline.watch()\nfunction on_flow() end\n").find("only inside a trigger callback"),
      std::string::npos);
  EXPECT_NE(load("while true do end\n").find("instruction budget exceeded"), std::string::npos);
  EXPECT_EQ(load("function on_flow() end\n"), "");

  std::string toml = "[lua]\nscript = \"" + (dir_ / "missing.lua").string() + "\"\n";
  auto cfg = std::make_shared<Config>(Config::load_string(toml, "<test>"));
  try {
    Pipeline p(cfg, Pipeline::Mode::Check);
    FAIL() << "a missing script loaded";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.lua: cannot read"), std::string::npos)
        << e.what();
  }
}

TEST(LuaConfigTest, RejectsBadValues) {
  EXPECT_THROW(Config::load_string("[lua]\nbudget = 5\n", "<t>"), ConfigError);
  EXPECT_THROW(Config::load_string("[lua]\nmemory_mb = 0\n", "<t>"), ConfigError);
  EXPECT_THROW(Config::load_string("[lua]\nscript = \"\"\n", "<t>"), ConfigError);
  EXPECT_THROW(Config::load_string("[lua]\nscripts = \"a.lua\"\n", "<t>"), ConfigError);
  Config c = Config::load_string("[lua]\nscript = \"t.lua\"\n", "/etc/tripline/tripline.toml");
  EXPECT_EQ(c.lua.script, "/etc/tripline/t.lua");
}

}  // namespace
}  // namespace tripline
