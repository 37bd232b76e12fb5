#include "lua_triggers.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
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
#include "lua_library.h"
#include "lua_sandbox.h"
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
        "memory_mb = 4\nbudget = 100000000\nmax_call_ms = 10000\n[queue]\ndefault_verdict = "
        "\"drop\"\n");
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
  for _, name in ipairs({"io.open", "os.exit", "debug.sethook", "package.loadlib", "require",
                         "dofile", "loadfile", "load", "collectgarbage", "coroutine.create",
                         "xpcall", "string.dump", "warn"}) do
    local lib, fn = name:match("^(%w+)%.(%w+)$")
    local stub = lib and _G[lib][fn] or _G[name]
    local ok, err = pcall(stub)
    if ok or not err:find(name .. " is not available in tripline scripts", 1, true) then
      error(name .. " is reachable: " .. tostring(err))
    end
  end
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

// f.client_name: the client's host name from the DHCP leases ([clients]
// leases), nil for a client no lease names; the events carry it too.
TEST_F(LuaTriggersTest, ClientNameFromTheLeases) {
  std::ofstream(dir_ / "dnsmasq.leases") << "0 02:00:00:00:0a:01 10.0.0.2 laptop *\n";
  start(R"(
function on_flow(f)
  tripline.alert{signature = "client " .. tostring(f.client_name)}
end)",
        "[dns]\nresolvers = [\"10.0.0.53\"]\n[egress]\nmode = \"monitor\"\n"
        "[network]\ninside = [\"10.0.0.0/8\"]\n[clients]\nleases = [\"" +
            (dir_ / "dnsmasq.leases").string() + "\"]\n",
        /*events=*/true);
  syn("198.51.100.9", 443);
  feed(craft::tcp(ip("10.0.0.3"), 40001, ip("198.51.100.9"), 443, kSyn, 1, 0, {}));
  EXPECT_EQ(counters().lua_errors.get(), 0u);
  worker_->shutdown(now_);
  std::string ev = events_text();
  EXPECT_NE(ev.find("\"signature\":\"client laptop\""), std::string::npos) << ev;
  EXPECT_NE(ev.find("\"signature\":\"client nil\""), std::string::npos) << ev;
  EXPECT_NE(ev.find("\"client_name\":\"laptop\""), std::string::npos) << ev;
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

// Hostile scripts (issue #10): each is cut off within its bound, the packet
// gets the default verdict, and the worker goes on.
class LuaHostileTest : public LuaTriggersTest {
 protected:
  // Runs on_flow for one new flow; returns the decision and the wall time in ms.
  Decision timed_syn(uint16_t dport, double* ms) {
    auto t0 = std::chrono::steady_clock::now();
    Decision d = syn("198.51.100.7", dport, static_cast<uint16_t>(40000 + dport));
    *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return d;
  }
  // The default verdict is drop here, so a script failure is visible.
  static constexpr const char* kDropDefault = "[queue]\ndefault_verdict = \"drop\"\n";
};

TEST_F(LuaHostileTest, ReturnedValuesAreJudgedWithoutRunningTheirMetamethods) {
  start(R"(
local bad = {
  function() return setmetatable({}, {__tostring = function() error("x") end}) end,
  function() return setmetatable({}, {__tostring = function() while true do end end,
                                      __name = "evil"}) end,
  function(f) return f end,
  function() return print end,
  function() return string.rep("y", 60000) end,
  function() local t = {} for i = 1, 100 do t = {t} end return t end,
  function() return 3.5 end,
  function() return true end,
}
function on_flow(f)
  if f.dest_port == 100 then return "accept" end
  return bad[f.dest_port](f)
end)",
        kDropDefault);
  for (uint16_t p = 1; p <= 8; ++p) {
    double ms = 0;
    Decision d = timed_syn(p, &ms);
    EXPECT_EQ(d.verdict, Verdict::Drop) << p;
    EXPECT_EQ(d.reason, "lua-error") << p;
    EXPECT_LT(ms, 2000) << p;
  }
  EXPECT_EQ(counters().lua_errors.get(), 8u);
  EXPECT_EQ(syn("198.51.100.7", 100, 41000).verdict, Verdict::Accept);  // still working
}

TEST_F(LuaHostileTest, ErrorObjectsOfEveryTypeAreErrors) {
  start(R"(
local objs = {
  function() error(setmetatable({}, {__tostring = function() error("again") end})) end,
  function() error(nil) end,
  function(f) error(f) end,
  function() error(string.rep("z", 50000) .. string.rep("z", 50000)) end,
  function() error(42) end,
  function() error(function() end) end,
  function() error(setmetatable({}, {__index = function() while true do end end})) end,
}
function on_flow(f) objs[f.dest_port](f) end)",
        kDropDefault);
  for (uint16_t p = 1; p <= 7; ++p) {
    Decision d = syn("198.51.100.7", p, static_cast<uint16_t>(40000 + p));
    EXPECT_EQ(d.reason, "lua-error") << p;
    EXPECT_EQ(d.verdict, Verdict::Drop) << p;
  }
  EXPECT_EQ(counters().lua_errors.get(), 7u);
}

TEST_F(LuaHostileTest, HugeErrorMessagesAreCut) {
  start(R"(
function on_flow(f)
  local s = string.rep("x", 40000)
  if f.dest_port == 1 then error(s .. s .. s .. s) end
  print(s .. s .. s .. s)
  return "drop"
end)",
        kDropDefault);
  std::ostringstream out;
  auto saved = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  EXPECT_EQ(syn("198.51.100.7", 1, 40001).reason, "lua-error");
  EXPECT_EQ(syn("198.51.100.7", 2, 40002).verdict, Verdict::Drop);  // print worked
  spdlog::set_default_logger(saved);
  std::string log = out.str();
  EXPECT_NE(log.find("bytes)"), std::string::npos) << log.substr(0, 200);
  EXPECT_NE(log.find("lua: xxxx"), std::string::npos) << log.substr(0, 200);
  EXPECT_LT(log.size(), 4 * LuaSandbox::kMaxMessage) << log.size();
}

TEST_F(LuaHostileTest, FinalizersAreRefused) {
  start(R"(
function on_flow(f)
  if f.dest_port == 1 then
    setmetatable({}, {__gc = function() while true do end end})
  elseif f.dest_port == 2 then
    -- __gc added after setmetatable marks nothing for finalization
    local mt = {}
    for i = 1, 200 do setmetatable({}, mt) end
    mt.__gc = function() while true do end end
    local churn = {}
    for i = 1, 2000 do churn[i] = {i} end
    return "accept"
  end
end)",
        kDropDefault);
  EXPECT_EQ(syn("198.51.100.7", 1, 40001).reason, "lua-error");
  EXPECT_EQ(syn("198.51.100.7", 2, 40002).verdict, Verdict::Accept);
  for (uint16_t i = 0; i < 20; ++i) syn("198.51.100.7", 2, static_cast<uint16_t>(40100 + i));
  EXPECT_EQ(counters().lua_errors.get(), 1u);
  // Tearing the state down (lua_close runs pending finalizers) ends.
  worker_.reset();
  pipeline_.reset();
}

TEST_F(LuaHostileTest, AllocatingCFunctionsAreChargedToTheBudget) {
  start(R"(
function on_flow(f)
  local p = f.dest_port
  if p == 1 then for i = 1, 3000 do string.rep("x", 1e6) end end
  if p == 2 then for i = 1, 3000 do local _ = ("x"):rep(1e5, ",") end end
  local t = table.pack(string.byte(string.rep("abcdefgh", 1000), 1, -1))
  if p == 3 then for i = 1, 1000 do table.sort(t, function(a, b) return a > b end) end end
  if p == 4 then for i = 1, 1000 do table.sort(t) end end
  if p == 5 then for i = 1, 1000 do local _ = table.concat(t, ",") end end
  if p == 6 then for i = 1, 1000 do table.insert(t, 1, 0) end end
  if p == 7 then for i = 1, 1000 do local _ = {table.unpack(t)} end end
  if p == 8 then for i = 1, 1000 do local _ = string.upper(string.rep("ab", 30000)) end end
  return "accept"
end)",
        // the wall clock is not what this test is about
        std::string("max_call_ms = 2000\n") + kDropDefault);
  for (uint16_t p = 1; p <= 8; ++p) {
    double ms = 0;
    Decision d = timed_syn(p, &ms);
    EXPECT_EQ(d.reason, "lua-error") << p;
    EXPECT_EQ(d.verdict, Verdict::Drop) << p;
    EXPECT_LT(ms, 1000) << p;
  }
  EXPECT_EQ(counters().lua_budget_exceeded.get(), 8u);
  EXPECT_EQ(syn("198.51.100.7", 9, 40009).verdict, Verdict::Accept);
}

TEST_F(LuaHostileTest, PathologicalPatternsAreRefusedBeforeTheyRun) {
  start(R"lua(
local s = string.rep("a", 800)
function on_flow(f)
  local p = f.dest_port
  if p == 1 then return s:find("(.-)(.-)(.-)x") and "accept" end
  if p == 2 then return s:match("(a*)(a*)(a*)b") and "accept" end
  if p == 3 then for _ in s:gmatch("(.-)(.-)x") do end end
  if p == 4 then return (s:gsub("(a-)(a-)(a-)b", "")) and nil end
  -- ordinary patterns on a packet-sized string stay cheap
  local req = "GET /index.html HTTP/1.1\r\nHost: example.test\r\n" .. string.rep("a", 1400)
  local host = req:match("Host: ([^\r\n]+)")
  local path = req:match("^GET (%S+)")
  local k, v = ("user=alice"):match("(%w+)=(%w+)")
  local n = select(2, req:gsub("a", "b"))
  if host == "example.test" and path == "/index.html" and v == "alice" and n == 1401 then
    return "accept"
  end
  error("patterns broken: " .. tostring(host) .. " " .. tostring(path) .. " " .. tostring(v))
end)lua",
        kDropDefault);
  for (uint16_t p = 1; p <= 4; ++p) {
    double ms = 0;
    Decision d = timed_syn(p, &ms);
    EXPECT_EQ(d.reason, "lua-error") << p;
    EXPECT_LT(ms, 1000) << p;
  }
  EXPECT_EQ(counters().lua_budget_exceeded.get(), 4u);
  EXPECT_EQ(syn("198.51.100.7", 5, 40005).verdict, Verdict::Accept);
  EXPECT_EQ(counters().lua_errors.get(), 4u);
}

TEST_F(LuaHostileTest, WatchdogStopsACallThatOverrunsItsTime) {
  // A budget big enough for seconds of work: only the wall clock can stop it.
  start(R"(
function on_flow(f)
  if f.dest_port == 1 then while true do end end
  if f.dest_port == 2 then while true do pcall(function() while true do end end) end end
  if f.dest_port == 3 then
    local x <close> = setmetatable({}, {__close = function() while true do end end})
    while true do end
  end
  return "accept"
end)",
        std::string("budget = 100000000\nmax_call_ms = 30\n") + kDropDefault);
  for (uint16_t p = 1; p <= 3; ++p) {
    double ms = 0;
    Decision d = timed_syn(p, &ms);
    EXPECT_EQ(d.verdict, Verdict::Drop) << p;
    EXPECT_EQ(d.reason, "lua-error") << p;
    EXPECT_GE(ms, 25) << p;
    EXPECT_LT(ms, 1000) << p;
  }
  EXPECT_EQ(counters().lua_time_exceeded.get(), 3u);
  EXPECT_EQ(counters().lua_budget_exceeded.get(), 0u);
  // The next call gets its whole time again.
  EXPECT_EQ(syn("198.51.100.7", 4, 40004).verdict, Verdict::Accept);
  EXPECT_EQ(counters().lua_time_exceeded.get(), 3u);
}

TEST_F(LuaHostileTest, BlockedNamesSayWhatIsBlocked) {
  start(R"(
local blocked = {
  function() return os.execute("true") end,
  function() return io.open("/etc/passwd") end,
  function() return load("return 1") end,
  function() return require("os") end,
  function() return collectgarbage() end,
  function() return string.dump(on_flow) end,
  function() return debug.getinfo(1) end,
  function() return dofile("/etc/passwd") end,
  function() return coroutine.wrap(print) end,
}
function on_flow(f)
  local p = f.dest_port
  if blocked[p] then
    local ok, err = pcall(blocked[p])
    if ok or not err:find("is not available in tripline scripts", 1, true) then
      error("not blocked: " .. p .. " " .. tostring(err))
    end
    return "accept"
  end
  -- the string metatable is out of reach
  assert(getmetatable("") == "locked")
  assert(not pcall(setmetatable, "", {}))
  assert(("x"):rep(3) == "xxx" and ("a,b"):find(",", 1, true) == 2)
  assert(string.rep("ab", 3, ",") == "ab,ab,ab" and ("%d"):format(7) == "7")
  local t = {3, 1, 2}
  table.sort(t) table.insert(t, 4) table.remove(t, 1)
  assert(table.concat(t, ",") == "2,3,4" and select("#", table.unpack(t)) == 3)
  assert(table.move({1, 2}, 1, 2, 2)[3] == 2 and utf8.char(72, 105) == "Hi")
  assert(("a1b2"):gsub("%d", "") == "ab" and math.floor(2.5) == 2)
  local ok, err = pcall(table.sort, setmetatable({}, {__len = function() return 1e9 end}))
  assert(not ok and err:find("__len", 1, true))
  return "drop"
end)");
  for (uint16_t p = 1; p <= 9; ++p)
    EXPECT_EQ(syn("198.51.100.7", p, static_cast<uint16_t>(40000 + p)).verdict, Verdict::Accept)
        << p;
  EXPECT_EQ(syn("198.51.100.7", 100, 40100).verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_errors.get(), 0u);
}

TEST_F(LuaHostileTest, TopLevelIsBoundedToo) {
  auto check = [&](const std::string& code) -> std::string {
    std::string toml = "[lua]\nscript = \"" + write_script(code) + "\"\n";
    auto cfg = std::make_shared<Config>(Config::load_string(toml, "<test>"));
    auto t0 = std::chrono::steady_clock::now();
    std::string what;
    try {
      Pipeline p(cfg, Pipeline::Mode::Check);
    } catch (const ConfigError& e) {
      what = e.what();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
    return what;
  };
  EXPECT_NE(check("local s = string.rep('a', 800)\ns:find('(.-)(.-)(.-)(.-)x')\n"
                  "function on_flow() end\n")
                .find("instruction budget exceeded (string.find)"),
            std::string::npos);
  EXPECT_NE(
      check("setmetatable({}, {__gc = function() end})\nfunction on_flow() end\n").find("__gc"),
      std::string::npos);
  EXPECT_NE(check("error(setmetatable({}, {__tostring = error}))\n").find("table value"),
            std::string::npos);
  EXPECT_NE(check("setmetatable(_G, {__index = function() while true do end end})\n")
                .find("defines none of"),
            std::string::npos);
}

TEST_F(LuaHostileTest, MemoryLimitIsCountedApart) {
  start(R"(
hog = {}
function on_flow(f)
  if f.dest_port == 1 then for i = 1, 1e9 do hog[i] = ("x"):rep(1000) .. i end end
  hog = {}
  return "accept"
end)",
        std::string("memory_mb = 4\nbudget = 100000000\nmax_call_ms = 10000\n") + kDropDefault);
  Decision d = syn("198.51.100.7", 1, 40001);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(counters().lua_memory_exceeded.get(), 1u);
  EXPECT_EQ(counters().lua_errors.get(), 1u);
  EXPECT_EQ(syn("198.51.100.7", 2, 40002).verdict, Verdict::Accept);
}

TEST(LuaSandboxTest, PanicBecomesAnExceptionNotAnAbort) {
  LuaSandbox sb(LuaLimits{.memory_bytes = 1 << 20, .budget = 1000, .max_call_ms = 0});
  // Without the panic handler Lua aborts the process here.
  EXPECT_THROW(sb.raise_unprotected_for_test(), LuaError);
}

TEST(LuaSandboxTest, PatternCostEstimates) {
  std::string s(800, 'a');
  EXPECT_GT(lua_pattern_cost(s, "(.-)(.-)(.-)x", true), 1e10);
  EXPECT_LT(lua_pattern_cost(s, "^GET (%S+)", true), 2000);            // anchored, one repeat
  EXPECT_LT(lua_pattern_cost(s, "Host: ([^\r\n]+)\r\n", true), 2000);  // prefix never occurs
  EXPECT_LT(lua_pattern_cost(s, "(%w+)", true), 2000);                 // a trailing repeat
  EXPECT_GT(lua_pattern_cost(s, "(%w+)$", true), 1e5);                 // ... unless it can fail
  EXPECT_GT(lua_pattern_cost(s, "^(.-)x", false), 1e5);                // gmatch: no anchor
  EXPECT_GT(lua_pattern_cost(s, "%b()%b()", true), 1e5);
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
