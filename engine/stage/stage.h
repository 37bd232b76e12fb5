// One step of the packet pipeline. Each stage says whether it cares about a
// packet (likes) and may decide its fate (inspect). Stages are per-worker
// objects: they may keep per-worker state without locks.
#pragma once

#include <string_view>

#include "decode.h"
#include "flow_table.h"
#include "packet_meta.h"
#include "stage_profile.h"
#include "timestamp.h"
#include "verdict.h"

namespace tripline {

enum class Next : uint8_t { Continue, Stop };

struct PacketContext {
  // Member by member (an aggregate's brace-init zeroed all 144 bytes with
  // `rep stos` first, for every packet).
  PacketContext(const Decoded& p, Flow& f, bool is_new, Dir d, Timestamp t, uint64_t fr,
                const Decision& dec, bool decided = false, const PacketMeta& m = kNoPacketMeta)
      : pkt(p),
        flow(f),
        new_flow(is_new),
        dir(d),
        now(t),
        frame(fr),
        decision(dec),
        flow_decided(decided),
        meta(m) {}

  const Decoded& pkt;
  Flow& flow;
  bool new_flow;  // this packet created the flow
  Dir dir;        // kToServer: same direction as the flow's first packet
  Timestamp now;
  uint64_t frame;             // 1-based packet number in this worker (replay: pcap frame)
  Decision decision;          // what the packet gets unless a stage changes it
  bool flow_decided = false;  // flow_decision applies to the rest of the flow
  // Interfaces, when the source knows them (live); outlives the context.
  const PacketMeta& meta = kNoPacketMeta;
  // What the flow keeps when flow_decided: the last decide_flow(), even when a
  // later stage decided this packet alone (a trigger's error must not change
  // what the policy decided for the rest of the flow).
  Decision flow_decision = {};
  // A flow that was open when a reload changed the policy or the script,
  // judged again with this packet (new_flow is false; decision starts as
  // what the flow had). Stages that judge new flows judge it as they would
  // a new one, except what only a new connection is checked for (the DNS
  // gate): engine/worker/README.md.
  bool rejudge = false;

  // This packet only (e.g. dropping one forged DNS answer).
  void decide_packet(const Decision& d) { decision = d; }
  // This packet and every later packet of the flow.
  void decide_flow(const Decision& d) {
    decision = d;
    flow_decision = d;
    flow_decided = true;
  }
};

// A non-first fragment: no upper-layer header (no ports, no payload header),
// and no known flow when it arrived before its first fragment.
struct FragmentContext {
  const Decoded& pkt;
  Flow* flow;  // null when the flow is not known (yet)
  Dir dir;
  Timestamp now;
  uint64_t frame;
  Decision decision;  // this fragment only: the flow's decision does not change
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  // What `tripline bench` charges the worker's calls into this stage to (a
  // stage may charge parts of its work elsewhere through StageEnv::profile()).
  virtual ProfileStage profile_stage() const { return profile_stage_of(name()); }
  virtual bool likes(const PacketContext& ctx) const = 0;
  virtual Next inspect(PacketContext& ctx) = 0;
  // Non-first fragments never reach likes()/inspect(): they get their flow's
  // decision (or the default). A stage that reassembles datagrams sees them
  // here instead and may change the decision for that fragment only.
  virtual bool likes_fragment(const FragmentContext&) const { return false; }
  virtual void inspect_fragment(FragmentContext&) {}
  // Called on a new flow's first packet (and on a re-judged flow's packet,
  // ctx.rejudge) once every stage has run, with the decision it gets (a
  // later stage, a trigger, may have replaced this stage's): what a stage
  // reports about its own decision waits for this.
  virtual void on_new_flow_decided(const PacketContext&) {}
  // Called for every flow end, after the flow event is written.
  virtual void on_flow_end(const Flow&, FlowEndReason, Timestamp) {}
};

}  // namespace tripline
