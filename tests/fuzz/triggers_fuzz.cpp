// Fuzzes a worker running a Lua trigger script and conditional capture: the
// same input format as pipeline_fuzz (each record: 1 byte of clock step in
// 100 ms units, 2 bytes of length, a raw IP packet). The script lets the
// packets' bytes choose what it does: watch, unwatch, capture in every scope,
// alert, use the shared store (tripline.set/incr/get/del), read every field
// and the payload, return every kind of value, raise
// errors and run into its instruction budget; a payload "H" + n makes the hook
// return or raise hostile value n (tables and functions with metamethods,
// error objects of every type, huge strings, nested tables, finalizers,
// pathological patterns, C functions that allocate). Variants with [dns] and
// egress on run on_dns on trusted answers the same way (a query name
// "hostileNN" picks hostile value NN). Each packet must get exactly
// one verdict, Lua calls and errors must add up, and captures must account
// for every packet they took.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "config.h"
#include "decode.h"
#include "pipeline.h"
#include "worker.h"
#include "worker_fuzz_input.h"

namespace {

using tripline::fuzz::check;

constexpr const char* kScript = R"(
local scopes = { "flow", "host", "all" }
local results = { "accept", "drop", "reject", nil, 42, "allow" }

local function act(o, b)
  if b % 7 == 0 then tripline.watch() end
  if b % 23 == 0 then tripline.unwatch() end
  if b % 11 == 0 then
    local id, why = tripline.capture{ scope = scopes[b % 3 + 1], packets = 5, seconds = 1,
                                       bytes = 4000, label = tripline.payload(2, 12) }
    assert(id ~= nil or type(why) == "string")
  end
  if b % 13 == 0 then
    tripline.alert{ signature = tostring(o) .. tripline.payload(1, 8), severity = b % 255 + 1 }
  end
  if b % 17 == 0 then  -- the shared store (16 entries): keys and values from the packet
    local k = tripline.payload(1, 6)
    pcall(tripline.set, k, tripline.payload(7, 40), b % 4 + 1)
    pcall(tripline.incr, "n" .. k, b % 3, b % 5 + 1)
    pcall(tripline.get, k)
    if b % 2 == 0 then tripline.del("n" .. k) end
  end
  if b % 29 == 0 then error("boom " .. b) end
  if b % 31 == 0 then while true do end end
  if b % 37 == 0 then local t = {} for i = 1, 1e9 do t[i] = i end end
  return results[b % 6 + 1]
end

-- A payload "H" + n: the hook returns or raises hostile value n.
local hostile = {
  function() return setmetatable({}, {__tostring = function() error("x") end}) end,
  function() return setmetatable({}, {__tostring = function() while true do end end,
                                      __name = "evil"}) end,
  function(o) return o end,
  function() return print end,
  function() return string.rep("r", 5000) end,
  function() local t = {} for i = 1, 60 do t = {t, t} end return t end,
  function() error(setmetatable({}, {__tostring = function() error("y") end})) end,
  function() error(nil) end,
  function(o) error(o) end,
  function() local s = string.rep("e", 4000) error(s .. s .. s) end,
  function() error(function() end) end,
  function() setmetatable({}, {__gc = function() while true do end end}) end,
  function()
    local x <close> = setmetatable({}, {__close = function() while true do end end})
    while true do end
  end,
  function() return string.rep("a", 400):find("(.-)(.-)(.-)x") end,
  function() return table.concat({1, 2, 3}, string.rep(",", 50000)) end,
  function() return os.execute("true") end,
  function() return 1.5 end,
  function() return true end,
  function() for i = 1, 1e6 do local _ = string.rep("z", 1000) end end,
  function() print(string.rep("p", 3000), setmetatable({}, {__tostring = error})) end,
}

local seen = {}
function on_flow(f)
  local p = tripline.payload()
  if p:byte(1) == 72 then return hostile[(p:byte(2) or 0) % #hostile + 1](f) end
  if p:byte(1) == 7 then tripline.watch() return nil end
  local b = (p:byte(1) or 0) + f.src_port
  seen[f.flow_id] = { f.src_ip, f.dest_ip, f.proto, f.dns_name, f.state, f.len,
                      f.policy_verdict, f.policy_reason, f.client_host }
  return act(f, b)
end

function on_packet(p)
  local h = tripline.payload(1, 2)
  if h:byte(1) == 72 then return hostile[(h:byte(2) or 0) % #hostile + 1](p) end
  local b = (tripline.payload(-1):byte(1) or 0) + p.pkts_toserver + p.pkts_toclient
  local _ = { p.dir, p.payload_len, p.tcp_flags, p.age, p.time, p.bytes_toserver, p.new,
              p.policy_verdict, p.policy_reason, p.client_host }
  return act(p, b)
end

function on_flow_end(f)
  seen[f.flow_id] = nil
  local _ = f.reason .. f.pkts_toserver .. tostring(f.dir)
  if f.flow_id % 5 == 0 then tripline.alert("flow end " .. f.flow_id) end
end

-- Trusted answers (configs with [dns]): a query name "hostileNN..." makes the
-- hook return or raise hostile value NN; otherwise the name and id choose.
local dns_results = { "drop", "block", nil, "accept", "reject", 7 }
function on_dns(d)
  local q = d.qname
  local _ = { d.client, d.client_host, d.resolver, d.resolver_port, d.id, d.proto, d.qtype,
              d.rcode, d.blocked_by, d.time, d.flow_id }
  for _, a in ipairs(d.answers) do _ = a.name .. a.type .. a.ttl .. tostring(a.data) end
  _ = table.concat(d.chain, ",") .. table.concat(d.addresses, ",") .. tostring(d)
  if q:sub(1, 7) == "hostile" then
    return hostile[(tonumber(q:sub(8, 9)) or 0) % #hostile + 1](d)
  end
  local b = #q + d.id
  if b % 11 == 0 then
    local id, why = tripline.capture{ scope = scopes[b % 3 + 1], packets = 5, seconds = 1 }
    assert(id ~= nil or type(why) == "string")
  end
  if b % 13 == 0 then tripline.alert{ signature = q, severity = b % 255 + 1 } end
  if b % 29 == 0 then error("boom " .. b) end
  if b % 31 == 0 then while true do end end
  return dns_results[b % 6 + 1]
end
)";

struct Scratch {
  std::filesystem::path dir;
  Scratch() {
    char tmpl[] = "/tmp/tripline-triggers-fuzz-XXXXXX";
    check(mkdtemp(tmpl) != nullptr, "scratch folder");
    dir = tmpl;
    std::FILE* f = std::fopen((dir / "fuzz.lua").c_str(), "w");
    check(f != nullptr, "script file");
    std::fputs(kScript, f);
    std::fclose(f);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::shared_ptr<const tripline::Config> make_config(const Scratch& s, uint8_t variant) {
  std::string toml =
      "[lua]\nscript = \"" + (s.dir / "fuzz.lua").string() + "\"\n" +
      "budget = 2000\nmemory_mb = 2\nmax_call_ms = 20\nmax_consecutive_errors = 1000000\n" +
      "shared_entries = 16\n" + "[capture]\ndir = \"" + (s.dir / "capture").string() + "\"\n" +
      "max_files = 3\nmax_sessions = 2\nring_mb = 1\n" +
      "pre_packets = " + std::to_string((variant & 1) ? 4 : 0) + "\n" +
      "[flows]\ncapacity = 32\nfragments = 16\n";
  if (variant & 2) toml += "[queue]\ndefault_verdict = \"drop\"\n";
  // The DNS observer and the egress policy in front of the script: on_dns
  // runs on trusted answers, on_flow on flows the policy blocks too.
  if (variant & 4)
    toml += "[dns]\nresolvers = [\"10.0.0.53\"]\nblock_mode = \"" +
            std::string((variant & 1) ? "nxdomain" : "null") + "\"\n[egress]\nmode = \"enforce\"\n";
  return std::make_shared<const tripline::Config>(
      tripline::Config::load_string(toml, "triggers_fuzz.toml"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tripline;
  if (size < 1) return 0;
  static Scratch scratch;
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // every script error would be logged
    return true;
  }();
  (void)quiet;
  static std::shared_ptr<const Config> configs[8];
  auto& cfg = configs[data[0] % 8];
  if (!cfg) cfg = make_config(scratch, data[0] % 8);
  Pipeline pipeline(cfg, Pipeline::Mode::Replay);
  {
    Worker worker(cfg, 0, nullptr);
    pipeline.stage_factory()(worker);
    uint64_t packets = fuzz::run_records(worker, data, size, [](const Decision&) {});
    const Counters& c = worker.counters();
    check(c.lua_errors.get() + c.lua_verdicts.get() <= c.lua_calls.get(),
          "errors and verdicts come from calls");
    check(c.lua_budget_exceeded.get() + c.lua_time_exceeded.get() + c.lua_memory_exceeded.get() <=
              c.lua_errors.get(),
          "budget, time and memory overruns are errors");
    check(c.lua_calls.get() <= 2 * packets + c.flows_ended.get() + c.dns_answers_trusted.get(),
          "at most on_flow + on_packet per packet, on_flow_end per flow, on_dns per answer");
  }
  pipeline.shutdown();  // flushes the capture writer
  return 0;
}
