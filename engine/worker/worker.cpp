#include "worker.h"

#include <chrono>

#include "capture_recorder.h"
#include "offload_link.h"
#include "offload_rule.h"

namespace tripline {
namespace {

// A request to the conntrack thread about `flow`, from worker `index`.
CtRequest ct_request(const Flow& flow, CtOp op, unsigned index) {
  CtRequest r;
  r.tuple = {flow.src(), flow.dst(), flow.sport(), flow.dport(), flow.proto()};
  r.op = op;
  r.worker = static_cast<uint16_t>(index);
  return r;
}

// How often (in clock time) process() sweeps the flow table for timeouts.
constexpr Timestamp kTickInterval = kNsPerSec;

// What a packet gets when nothing decides otherwise ([queue] default_verdict).
Decision default_decision(const Config& cfg) {
  Decision d;
  d.verdict = cfg.queue.default_verdict;
  d.reason = "default";
  if (d.verdict == Verdict::Reject) {  // rejects are carried out by a marked rule
    d.mark = cfg.egress.reject_mark;
    d.has_mark = true;
  }
  return d;
}

}  // namespace

Worker::Worker(std::shared_ptr<const Config> cfg, unsigned index, EventWriter* events)
    : cfg_(std::move(cfg)),
      index_(index),
      env_(counters_, events, default_decision(*cfg_), index),
      flows_(cfg_->flows, this) {}

Worker::~Worker() = default;

void Worker::add_stage(std::unique_ptr<Stage> stage) {
  stage_profile_.push_back(stage->profile_stage());
  stages_.push_back(std::move(stage));
}

void Worker::set_stage_updates(const std::atomic<uint64_t>* generation, StageUpdate update) {
  generation_ = generation;
  update_ = std::move(update);
  seen_generation_ = generation_ ? generation_->load(std::memory_order_acquire) : 0;
  applied_generation_.store(seen_generation_, std::memory_order_release);
}

void Worker::update_stages() {
  auto started = std::chrono::steady_clock::now();
  uint64_t g = generation_->load(std::memory_order_acquire);
  update_(*this);
  seen_generation_ = g;
  last_update_ns_.store(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                  std::chrono::steady_clock::now() - started)
                                                  .count()),
                        std::memory_order_relaxed);
  applied_generation_.store(g, std::memory_order_release);
}

std::vector<std::unique_ptr<Stage>> Worker::take_stages() {
  stage_profile_.clear();
  return std::move(stages_);
}

void Worker::set_stages(std::vector<std::unique_ptr<Stage>> stages,
                        std::shared_ptr<const void> inputs) {
  stages_.clear();
  stage_profile_.clear();
  for (auto& s : stages) add_stage(std::move(s));
  stage_inputs_ = std::move(inputs);
}

void Worker::set_profile(StageProfile* profile) {
  profile_ = profile;
  env_.set_profile(profile);
}

void Worker::set_capture(std::unique_ptr<CaptureRecorder> capture) {
  capture_ = std::move(capture);
  env_.set_capture(capture_.get());
}

void Worker::count_verdict(const Decision& d) {
  switch (d.verdict) {
    case Verdict::Accept:
      counters_.verdict_accept.add();
      break;
    case Verdict::Drop:
      counters_.verdict_drop.add();
      break;
    case Verdict::Reject:
      counters_.verdict_reject.add();
      break;
  }
  if (d.has_mark) counters_.verdict_marked.add();
}

void Worker::prefetch(LinkType link, std::span<const uint8_t> bytes, ReadAhead& ahead) {
  charge(ProfileStage::Decode);
  ahead.slot = 0;  // (decode() sets all of ahead.pkt)
  ahead.error = decode(link, bytes, ahead.pkt);
  charge(ProfileStage::FlowTable);  // and so the warming steps after it
  ahead.key_hash = ahead.error == DecodeError::None ? flows_.prefetch_index(ahead.pkt) : 0;
}

Decision Worker::process(LinkType link, std::span<const uint8_t> bytes, Timestamp now,
                         const PacketMeta& meta, const ReadAhead* ahead) {
  if (!ahead) {  // decoded here, as a read-ahead would have (the hot path has it)
    ReadAhead own;
    prefetch(link, bytes, own);
    return process(link, bytes, now, meta, &own);
  }
  ++frame_;
  counters_.packets.add();
  counters_.bytes.add(bytes.size());
  if (now - last_tick_ >= kTickInterval) {
    charge(ProfileStage::FlowTable);
    tick(now);
  }

  charge(ProfileStage::Decode);
  Decision decision = env_.default_decision();
  const DecodeError err = ahead->error;
  const Decoded& pkt = ahead->pkt;
  if (err != DecodeError::None) {
    if (err == DecodeError::NotIp) {
      counters_.not_ip.add();
      decision.reason = "not-ip";
    } else {
      counters_.decode_errors.add();
      counters_.decode_error[static_cast<size_t>(err)].add();
      decision.reason = "malformed";
    }
    count_verdict(decision);
    return decision;
  }
  if (pkt.is_fragment) counters_.fragments.add();

  charge(ProfileStage::FlowTable);
  FlowTable::Result tracked = flows_.track(pkt, now, &ahead->key_hash);
  if (!tracked.flow) {  // a non-first fragment of no flow we know (yet)
    counters_.fragments_unmatched.add();
    decision.reason = "fragment-unmatched";
    decision = inspect_fragment(pkt, nullptr, kToServer, now, decision);
    if (capture_) capture_->on_packet(pkt, nullptr, now, &decision);
    count_verdict(decision);
    return decision;
  }
  Flow& flow = *tracked.flow;
  if (tracked.created) counters_.flows_created.add();
  if (tracked.offload_gone) counters_.offload_gone.add();
  // Queued before its mark took effect (or before a take-back was asked).
  bool remark = false;
  if (flow.offload == FlowOffload::Offloaded) {
    counters_.offload_late_packets.add();
    // Offloaded by the verdict's mark and still queued: the packet was in the
    // queue before that verdict (its own verdict carries the mark again, for
    // the same save rule), or no save rule copied the mark: after
    // kOffloadRemarks such packets ctnetlink marks the connection, once.
    if (flow.offload_by_verdict && offload_) {
      if (flow.offload_remarks < kOffloadRemarks) {
        ++flow.offload_remarks;
        remark = true;
      } else {
        offload_through_ctnetlink(flow);
      }
    }
  }
  // A flow that is not new but undecided was open when a reload changed the
  // policy (rejudge_flows): this packet judges it again, from what it had.
  const bool rejudge = !tracked.created && !flow.decided;
  if (flow.decided || rejudge) decision = flow.decision;

  // A non-first fragment carries no upper-layer header: it shares its flow's
  // fate unless a reassembling stage decides otherwise for it.
  if (pkt.is_fragment && !pkt.has_ports) {
    decision = inspect_fragment(pkt, &flow, tracked.dir, now, decision);
    if (capture_) capture_->on_packet(pkt, &flow, now, &decision);
    count_verdict(decision);
    return decision;
  }

  PacketContext ctx{pkt, flow, tracked.created, tracked.dir, now, frame_, decision, false, meta};
  ctx.rejudge = rejudge;
  for (size_t i = 0; i < stages_.size(); ++i) {
    charge(stage_profile_[i]);
    if (!stages_[i]->likes(ctx)) continue;
    if (stages_[i]->inspect(ctx) == Next::Stop) break;
  }
  if (ctx.new_flow || ctx.rejudge) {
    for (size_t i = 0; i < stages_.size(); ++i) {
      charge(stage_profile_[i]);
      stages_[i]->on_new_flow_decided(ctx);
    }
  }
  charge(ProfileStage::Worker);
  // The flow keeps what a stage decided for it; a new flow nobody decided for
  // keeps the default (a packet-only decision does not stick).
  if (ctx.flow_decided || !flow.decided) {
    flow.decision = ctx.flow_decided ? ctx.flow_decision : decision;
    flow.decided = true;
  }
  // A flow refused for good ends now, in the events too (its packets still
  // coming keep the decision while the closed entry lingers).
  if (!flow.end_reported &&
      (flow.decision.verdict == Verdict::Drop || flow.decision.verdict == Verdict::Reject)) {
    flows_.end_blocked(
        flow,
        flow.decision.verdict == Verdict::Reject ? FlowEndReason::Rejected : FlowEndReason::Dropped,
        now);
  }
  if (capture_) {
    charge(ProfileStage::Capture);
    capture_->on_packet(pkt, &flow, now, &ctx.decision);
    charge(ProfileStage::Worker);
  }
  if (offload_) {
    if (capture_ && capture_->sessions_started() != capture_starts_seen_) take_back_recorded();
    consider_offload(flow, ctx.decision);
    if (remark && flow.offload == FlowOffload::Offloaded)
      ctx.decision.offload = offload_in_verdict(flow, ctx.decision);
  }
  count_verdict(ctx.decision);
  return ctx.decision;
}

Decision Worker::inspect_fragment(const Decoded& pkt, Flow* flow, Dir dir, Timestamp now,
                                  const Decision& decision) {
  FragmentContext ctx{pkt, flow, dir, now, frame_, decision};
  for (auto& stage : stages_) {
    if (stage->likes_fragment(ctx)) stage->inspect_fragment(ctx);
  }
  return ctx.decision;
}

void Worker::consider_offload(Flow& flow, Decision& d) {
  if (!should_offload(flow, cfg_->offload, capture_ && capture_->records(flow))) return;
  CtRequest r = ct_request(flow, CtOp::Offload, index_);
  r.drop = flow.decision.verdict == Verdict::Drop;
  // The verdict carries the mark (live; the save rule copies it to the
  // connection): the request then only registers the flow for its destroy
  // event, without a ctnetlink round trip per flow. Otherwise (drops: the
  // packet never reaches the save rule) ctnetlink marks the connection.
  r.in_verdict = offload_in_verdict(flow, d);
  if (!offload_->request(r)) return;  // full: counted by the link; asked again next packet
  counters_.offload_requested.add();
  if (r.in_verdict) counters_.offload_with_verdict.add();
  flows_.set_offload(flow, FlowOffload::Offloaded);
  flow.offload_by_verdict = r.in_verdict;
  flow.offload_remarks = 0;
  d.offload = r.in_verdict;
}

void Worker::offload_through_ctnetlink(Flow& flow) {
  if (offload_->request(ct_request(flow, CtOp::Offload, index_)))
    flow.offload_by_verdict = false;  // full: the next packet asks
}

void Worker::take_back_recorded() {
  capture_starts_seen_ = capture_->sessions_started();
  // Collected first: a flow taken back moves to another timeout list, and
  // for_each walks those lists.
  scratch_.clear();
  flows_.for_each([&](Flow& flow) {
    if (flow.offload == FlowOffload::Offloaded && capture_->records(flow))
      scratch_.push_back(&flow);
  });
  for (Flow* flow : scratch_) take_back(*flow);
}

bool Worker::take_back(Flow& flow) {
  if (!offload_->request(ct_request(flow, CtOp::TakeBack, index_)))
    return false;  // full: counted; the flow stays with the kernel
  counters_.offload_taken_back.add();
  flows_.set_offload(flow, FlowOffload::None);
  flow.offload_by_verdict = false;
  return true;
}

void Worker::rejudge_flows(bool script_changed) {
  scratch_.clear();  // collected first, as in take_back_recorded
  flows_.for_each([&](Flow& flow) {
    if (!flow.decided || flow.decision.verdict != Verdict::Accept) return;
    if (!script_changed && flow.decision.reason == "lua") return;  // the script's word stands
    scratch_.push_back(&flow);
  });
  for (Flow* flow : scratch_) {
    if (flow->offload == FlowOffload::Offloaded && (!offload_ || !take_back(*flow))) continue;
    // Undecided with its decision kept: process() judges it again from there.
    flow->decided = false;
    counters_.flows_rejudged.add();
  }
}

void Worker::drain_offload(Timestamp now) {
  CtEnd e;
  while (offload_->next_end(index_, e)) {
    const CtTuple c = e.tuple.canonical();
    Flow* flow = flows_.find(FlowKey{c.src, c.dst, c.sport, c.dport, c.proto});
    if (!flow || flow->offload != FlowOffload::Offloaded || flow->end_reported) {
      counters_.offload_ends_stale.add();  // taken back, or ended here meanwhile
      continue;
    }
    // An entry that stopped before this flow started was an earlier
    // connection on the same ports (its flow ended here already: offload_gone).
    if (e.kind != CtEndKind::Refused && e.stop != 0 && e.stop <= flow->start) {
      counters_.offload_ends_stale.add();
      continue;
    }
    if (e.kind == CtEndKind::Refused) {
      counters_.offload_refused.add();
      flows_.set_offload(*flow, FlowOffload::Refused);
      continue;
    }
    // conntrack's original direction is tripline's client side unless the
    // engine first saw the flow from the other end.
    const bool same = e.tuple.src == flow->src() && e.tuple.sport == flow->sport();
    const Dir dirs[2] = {same ? kToServer : kToClient, same ? kToClient : kToServer};
    FlowBypass bypass;
    if (e.has_counters) {
      for (int i = 0; i < 2; ++i) {
        const Dir d = dirs[i];
        if (e.pkts[i] > flow->pkts[d]) bypass.pkts[d] = e.pkts[i] - flow->pkts[d];
        if (e.bytes[i] > flow->bytes[d]) bypass.bytes[d] = e.bytes[i] - flow->bytes[d];
        flow->pkts[d] += bypass.pkts[d];
        flow->bytes[d] += bypass.bytes[d];
      }
    }
    if (e.stop > flow->last) flow->last = e.stop;
    const FlowEndReason reason = e.kind == CtEndKind::Fin   ? FlowEndReason::Fin
                                 : e.kind == CtEndKind::Rst ? FlowEndReason::Rst
                                                            : FlowEndReason::Timeout;
    counters_.offload_ends.add();
    bypass_ = e.has_counters ? &bypass : nullptr;
    flows_.end_flow(*flow, reason, now);
    bypass_ = nullptr;
  }
}

void Worker::tick(Timestamp now) {
  last_tick_ = now;
  ticks_.add();
  if (offload_) drain_offload(now);
  flows_.expire(now);
  if (capture_) capture_->tick(now);
}

void Worker::shutdown(Timestamp now) {
  flows_.flush(now);
  if (capture_) capture_->shutdown();
}

void Worker::on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) {
  ProfileStage was = profile_ ? profile_->enter(ProfileStage::Events) : ProfileStage::Worker;
  counters_.flows_ended.add();
  if (reason == FlowEndReason::Timeout) counters_.flows_timed_out.add();
  if (reason == FlowEndReason::Evicted) counters_.flows_evicted.add();
  if (env_.events_on()) env_.emit(env_.eve().flow_event(flow, reason, now, bypass_));
  // Ended while the kernel carried it: the link forgets it, if its destroy
  // event (lost or still to come) has not done so already.
  if (offload_ && flow.offload == FlowOffload::Offloaded)
    offload_->forget(ct_request(flow, CtOp::Offload, index_).tuple, static_cast<uint16_t>(index_));
  for (size_t i = 0; i < stages_.size(); ++i) {
    charge(stage_profile_[i]);
    stages_[i]->on_flow_end(flow, reason, now);
  }
  charge(ProfileStage::Capture);
  // A flow its verdict refused lingers (closed) for tcp_new and its packets
  // still come (a dropped SYN sent again): its recording keeps them.
  bool blocked = reason == FlowEndReason::Rejected || reason == FlowEndReason::Dropped;
  if (capture_) capture_->on_flow_end(flow, blocked ? now + cfg_->flows.tcp_new : now);
  charge(was);
}

}  // namespace tripline
