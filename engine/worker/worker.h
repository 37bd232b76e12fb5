// The packet pipeline of one worker: decode -> flow table -> stages -> decision,
// plus flow-end events and counters. Live, one worker serves one NFQUEUE; in
// replay one worker reads the whole file. Same code either way.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "config.h"
#include "counters.h"
#include "decode.h"
#include "event_writer.h"
#include "flow_table.h"
#include "packet_meta.h"
#include "stage.h"
#include "stage_env.h"
#include "verdict.h"
#include "worker_mailbox.h"

namespace tripline {

class CaptureRecorder;
class OffloadLink;
class Worker;

// Adds the configured stages to a worker (the composition root's job, shared
// by live and replay); it builds them with the worker's env().
using StageFactory = std::function<void(Worker&)>;
// Rebuilds a worker's stages from the newest published configuration
// (reload); runs on the worker's own thread, between two batches.
using StageUpdate = std::function<void(Worker&)>;

class Worker final : public FlowObserver {
 public:
  // events may be null (no event log).
  Worker(std::shared_ptr<const Config> cfg, unsigned index, EventWriter* events);
  ~Worker() override;

  // What this worker's stages are built with (the only part of it they see).
  StageEnv& env() { return env_; }
  void add_stage(std::unique_ptr<Stage> stage);
  // Conditional capture for this worker (null: capture is not configured).
  // The worker shows it every packet after its verdict; stages reach it
  // through env().capture().
  void set_capture(std::unique_ptr<CaptureRecorder> capture);
  // Charges this worker's time to stages (`tripline bench`); set before the
  // stages are added (they see it through env()). Null: not profiling.
  void set_profile(StageProfile* profile);

  // Reload hand-over. The composition root publishes a new stage
  // configuration by storing a higher number in *generation; the source calls
  // between_batches() after every batch and idle tick, and when the number
  // moved the worker runs `update` on its own thread before the next packet.
  // Costs one atomic load per batch, nothing per packet.
  void set_stage_updates(const std::atomic<uint64_t>* generation, StageUpdate update);
  void between_batches() {
    if (generation_ && generation_->load(std::memory_order_acquire) != seen_generation_)
        [[unlikely]]
      update_stages();
  }
  // The generation this worker's stages were last built from (any thread).
  uint64_t stage_generation() const { return applied_generation_.load(std::memory_order_acquire); }
  // How long the last update kept this worker from packets (any thread).
  uint64_t last_update_ns() const { return last_update_ns_.load(std::memory_order_relaxed); }
  // For a StageUpdate: takes the running stages out (to reuse or drop them)
  // and puts the new chain in; `inputs` is kept alive while they run.
  std::vector<std::unique_ptr<Stage>> take_stages();
  void set_stages(std::vector<std::unique_ptr<Stage>> stages, std::shared_ptr<const void> inputs);
  const std::shared_ptr<const void>& stage_inputs() const { return stage_inputs_; }
  // Offload (engine/conntrack): decided flows are handed to the kernel
  // through `link`, whose ends come back to this worker. Null: off.
  void set_offload(OffloadLink* link) { offload_ = link; }
  // True when flows may be offloaded (a conntrack link was set).
  bool offloading() const { return offload_ != nullptr; }

  // Read-ahead (replay): a source that holds the next packets before it hands
  // them to process() warms the caches for them in steps a packet or more
  // apart: prefetch() on a packet just read (decodes it into `ahead`, warms
  // its flow's index line), prefetch_flow() (warms the flow), then
  // prefetch_links() (the flow's list neighbours). They change nothing;
  // process() then takes `ahead` with the same bytes, so the packet is
  // decoded and its key hashed once.
  struct ReadAhead {
    Decoded pkt;
    DecodeError error = DecodeError::None;
    uint64_t key_hash = 0;
    uint32_t slot = 0;  // the flow's slot as the index guessed it (0: none)
  };
  // Judges one packet. Always returns a decision; never throws. `meta` is what
  // the source knows beyond the bytes (live: interfaces).
  // `ahead`: what prefetch() made of these very bytes (read-ahead), or null.
  Decision process(LinkType link, std::span<const uint8_t> bytes, Timestamp now,
                   const PacketMeta& meta = kNoPacketMeta, const ReadAhead* ahead = nullptr);
  void prefetch(LinkType link, std::span<const uint8_t> bytes, ReadAhead& ahead);
  void prefetch_flow(ReadAhead& ahead) const {
    ahead.slot = ahead.error == DecodeError::None ? flows_.prefetch_flow(ahead.key_hash) : 0;
  }
  void prefetch_links(const ReadAhead& ahead) const { flows_.prefetch_links(ahead.slot); }
  // Expires timed-out flows. process() does this itself as the clock moves;
  // the live source also calls it when idle.
  void tick(Timestamp now);
  // Ends all flows (reason shutdown).
  void shutdown(Timestamp now);

  // Questions from the control thread, answered on this worker's thread: the
  // live source calls serve_requests() after every batch and idle tick.
  WorkerMailbox& mailbox() { return mailbox_; }
  void serve_requests() { mailbox_.serve(*this); }
  // This worker's capture sessions (null: capture is not configured). Only on
  // this worker's thread (from a mailbox job).
  CaptureRecorder* capture() { return capture_.get(); }

  Counters& counters() { return counters_; }
  // Grows with every packet taken and every idle tick (the live source ticks
  // at least every 100 ms while idle): a value that stays put means this
  // worker is stuck in one packet. Read from any thread (the watchdog).
  uint64_t progress() const { return counters_.packets.get() + ticks_.get(); }
  const FlowTable& flows() const { return flows_; }
  // A reload changed the policy the open flows were judged by (or the
  // script, `script_changed`): every open flow it accepted is judged again
  // with its next packet (PacketContext::rejudge); an offloaded one is taken
  // back first (its conntrack mark cleared by the conntrack thread), so that
  // its packets return to the queue. A flow the script decided is judged
  // again only when the script changed. Dropped and rejected flows have
  // ended and stay as they are. On the worker's own thread, between batches
  // (a StageUpdate).
  void rejudge_flows(bool script_changed);
  // A reload replaced or removed the Lua stage: no flow stays watched by the
  // old script (on the worker's own thread, between batches).
  void forget_lua_watches() {
    flows_.for_each([](Flow& f) { f.watch &= static_cast<uint8_t>(~kWatchLua); });
  }
  unsigned index() const { return index_; }
  const Config& config() const { return *cfg_; }

  void on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) override;

 private:
  // The stages' view of this worker, plus the one change only the worker makes.
  class Env final : public StageEnv {
   public:
    using StageEnv::set_capture;
    using StageEnv::set_profile;
    using StageEnv::StageEnv;
  };

  void count_verdict(const Decision& d);
  void update_stages();
  // Charges the time so far to the current stage and enters `s` (profiling only).
  void charge(ProfileStage s) {
    if (profile_) [[unlikely]]
      profile_->enter(s);
  }
  // Runs the stages that want non-first fragments; returns the fragment's decision.
  Decision inspect_fragment(const Decoded& pkt, Flow* flow, Dir dir, Timestamp now,
                            const Decision& decision);

  // Offload: hands `flow` to the kernel when nothing needs its packets: this
  // packet's verdict `d` carries the offload mark when it may
  // (offload_in_verdict; the save rule copies it), otherwise a ctnetlink mark
  // update through the link; the link request registers it for its end.
  void consider_offload(Flow& flow, Decision& d);
  // A flow offloaded by the verdict alone whose packet still reached the queue.
  void offload_through_ctnetlink(Flow& flow);
  // Takes back offloaded flows a newly started recording covers.
  void take_back_recorded();
  // Asks the conntrack thread to clear an offloaded flow's mark; false (the
  // request queue full, counted by the link) leaves it with the kernel.
  bool take_back(Flow& flow);
  // Merges the kernel's ends of offloaded flows (and refusals) into the table.
  void drain_offload(Timestamp now);

  std::shared_ptr<const Config> cfg_;
  unsigned index_;
  Counters counters_;
  Env env_;  // before the stages: they keep a reference to it
  FlowTable flows_;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<ProfileStage> stage_profile_;  // what each of stages_ is charged to
  StageProfile* profile_ = nullptr;
  std::unique_ptr<CaptureRecorder> capture_;
  Timestamp last_tick_ = 0;
  Counter ticks_;
  uint64_t frame_ = 0;
  // Reload (set_stage_updates): what the stages were last built from.
  const std::atomic<uint64_t>* generation_ = nullptr;
  StageUpdate update_;
  uint64_t seen_generation_ = 0;
  std::atomic<uint64_t> applied_generation_{0};
  std::atomic<uint64_t> last_update_ns_{0};
  std::shared_ptr<const void> stage_inputs_;
  OffloadLink* offload_ = nullptr;
  uint64_t capture_starts_seen_ = 0;
  std::vector<Flow*> scratch_;          // flows to take back (take_back_recorded, rejudge_flows)
  const FlowBypass* bypass_ = nullptr;  // for the flow event of a flow the kernel ended
  WorkerMailbox mailbox_;
};

}  // namespace tripline
