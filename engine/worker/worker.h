// The packet pipeline of one worker: decode -> flow table -> stages -> decision,
// plus flow-end events and counters. Live, one worker serves one NFQUEUE; in
// replay one worker reads the whole file. Same code either way.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "config.h"
#include "counters.h"
#include "decode.h"
#include "eve.h"
#include "event_writer.h"
#include "flow_table.h"
#include "packet_meta.h"
#include "stage.h"
#include "verdict.h"

namespace tripline {

class CaptureRecorder;
class Worker;

// Adds the configured stages to a worker (the composition root's job, shared
// by live and replay).
using StageFactory = std::function<void(Worker&)>;

class Worker final : public FlowObserver {
 public:
  // events may be null (no event log).
  Worker(std::shared_ptr<const Config> cfg, unsigned index, EventWriter* events);
  ~Worker() override;

  void add_stage(std::unique_ptr<Stage> stage);
  // Conditional capture for this worker (null: capture is not configured).
  // The worker shows it every packet after its verdict.
  void set_capture(std::unique_ptr<CaptureRecorder> capture);
  CaptureRecorder* capture() const { return capture_.get(); }
  // What a packet gets when nothing decides otherwise ([queue] default_verdict).
  const Decision& default_decision() const { return default_decision_; }

  // Judges one packet. Always returns a decision; never throws. `meta` is what
  // the source knows beyond the bytes (live: interfaces).
  Decision process(LinkType link, std::span<const uint8_t> bytes, Timestamp now,
                   const PacketMeta& meta = {});
  // Expires timed-out flows. process() does this itself as the clock moves;
  // the live source also calls it when idle.
  void tick(Timestamp now);
  // Ends all flows (reason shutdown).
  void shutdown(Timestamp now);

  Counters& counters() { return counters_; }
  const FlowTable& flows() const { return flows_; }
  unsigned index() const { return index_; }
  const Config& config() const { return *cfg_; }

  void on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) override;

  // For stages: hand an event line to the writer (never blocks; counted).
  void emit(std::string line);
  EveBuilder& eve() { return eve_; }
  bool has_events() const { return events_ != nullptr; }

 private:
  void count_verdict(const Decision& d);
  // Runs the stages that want non-first fragments; returns the fragment's decision.
  Decision inspect_fragment(const Decoded& pkt, Flow* flow, Dir dir, Timestamp now,
                            const Decision& decision);

  std::shared_ptr<const Config> cfg_;
  unsigned index_;
  EventWriter* events_;
  Counters counters_;
  FlowTable flows_;
  std::vector<std::unique_ptr<Stage>> stages_;
  EveBuilder eve_;
  std::unique_ptr<CaptureRecorder> capture_;
  Decision default_decision_;
  Timestamp last_tick_ = 0;
  uint64_t frame_ = 0;
};

}  // namespace tripline
