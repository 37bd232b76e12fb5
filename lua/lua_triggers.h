// The trigger stage: runs a user's Lua script (lua/API.md) in a per-worker
// sandbox. on_flow sees every new flow (blocked or not: it runs after the
// policy and has the last word; a script a reload brought in also sees each
// flow open before it, once), on_packet only the packets of flows a script
// watches, on_flow_end every flow end, on_dns every trusted DNS answer (as
// the worker's DnsAnswerHook). Verdicts a script returns decide the flow;
// errors, budget, time and memory overruns get the default verdict for the
// packet.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns_answer_hook.h"
#include "lua_sandbox.h"
#include "stage.h"
#include "stage_env.h"

namespace tripline {

struct Config;
class LuaProfiler;
class SharedStore;

// A script's text, read and checked once (Pipeline) and loaded by every worker.
struct LuaScript {
  std::string path;
  std::string code;
};
// Reads and test-loads a script; throws LuaError ("file:line: what").
LuaScript load_lua_script(const Config& cfg);

class LuaTriggers final : public Stage, public DnsAnswerHook {
 public:
  // Throws LuaError when the script does not load or defines no hook.
  // `shared`: the store of tripline.incr/get/set/del, one for all workers and
  // owned by the caller (it outlives this stage and script reloads); null:
  // those functions raise an error.
  LuaTriggers(const Config& cfg, const LuaScript& script, StageEnv& env,
              SharedStore* shared = nullptr);
  ~LuaTriggers() override;

  std::string_view name() const override { return "lua"; }
  bool likes(const PacketContext& ctx) const override;
  Next inspect(PacketContext& ctx) override;
  void on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) override;
  DnsHookAction on_dns_answer(const DnsAnswerInfo& answer) override;

  bool has_on_flow() const { return on_flow_ != kNoRef; }
  bool has_on_packet() const { return on_packet_ != kNoRef; }
  bool has_on_flow_end() const { return on_flow_end_ != kNoRef; }
  bool has_on_dns() const { return on_dns_ != kNoRef; }
  bool disabled() const { return disabled_; }
  LuaSandbox& sandbox() { return *sandbox_; }
  // A script a reload brought in (new or changed): its on_flow also sees the
  // flows that were open before, with their next packet (PacketContext::
  // rejudge; f.new is false), so it judges them too.
  void judge_open_flows() { judges_open_flows_ = true; }

  // What the callback being run may look at and act on (internal to the
  // binding; public for its C functions).
  struct Call {
    PacketContext* ctx = nullptr;  // null in on_flow_end
    const Flow* flow = nullptr;
    const DnsAnswerInfo* dns = nullptr;  // on_dns only
    Decision policy;                     // on_flow: what the flow had before the script
    bool has_policy = false;
    FlowEndReason reason = FlowEndReason::Shutdown;
    Timestamp now = 0;
    uint64_t seq = 0;  // objects made for another call are stale
    bool active = false;
  };
  struct PendingAlert {
    std::string signature;
    std::string category;
    int severity = 3;
    uint32_t signature_id = 0;
    uint32_t rev = 1;
  };
  Call& call_state() { return call_; }
  StageEnv& env() { return env_; }
  // The script's path, as configured ([lua] script): recordings name it.
  const std::string& script_name() const;
  SharedStore* shared_store() const { return shared_; }
  // A recording the current call started (session id; 0: none).
  void note_capture(uint64_t id) {
    if (id != 0) capture_id_ = id;
  }
  // Queues an alert for the current flow; written once the verdict is known.
  bool add_alert(std::string_view signature, std::string_view category, int severity,
                 uint32_t signature_id, uint32_t rev);

 private:
  static constexpr int kNoRef = -2;  // LUA_NOREF
  enum class Hook : uint8_t { Flow, Packet, FlowEnd, Dns };

  // Runs one hook; on success returns true and sets *code to what the
  // script returned (0: nil; on_flow/on_packet: the verdict + 1; on_dns: see
  // lua_triggers.cpp).
  bool run(Hook hook, int fn_ref, int64_t* code);
  void emit_alerts(const Flow& flow, Timestamp now, bool blocked);
  void fail(Hook hook);
  // Makes a sandbox, loads the script into it and takes its hooks (throws LuaError).
  void build();
  void rebuild();

  const Config& cfg_;
  StageEnv& env_;
  LuaScript script_;
  std::unique_ptr<LuaSandbox> sandbox_;
  int on_flow_ = kNoRef;
  int on_packet_ = kNoRef;
  int on_flow_end_ = kNoRef;
  int on_dns_ = kNoRef;
  Call call_;
  std::vector<PendingAlert> alerts_;
  size_t n_alerts_ = 0;
  uint64_t capture_id_ = 0;  // the recording this call started: its alerts name the file
  uint32_t consecutive_errors_ = 0;
  uint64_t logged_errors_ = 0;
  bool disabled_ = false;
  bool judges_open_flows_ = false;
  std::unique_ptr<LuaProfiler> profiler_;  // `tripline bench` only (lua_profile.h)
  SharedStore* shared_ = nullptr;          // tripline.incr/get/set/del (lua_shared.h)
};

}  // namespace tripline
