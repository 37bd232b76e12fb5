// One step of the packet pipeline. Each stage says whether it cares about a
// packet (likes) and may decide its fate (inspect). Stages are per-worker
// objects: they may keep per-worker state without locks.
#pragma once

#include <string_view>

#include "decode.h"
#include "flow_table.h"
#include "timestamp.h"
#include "verdict.h"

namespace tripline {

enum class Next : uint8_t { Continue, Stop };

struct PacketContext {
  const Decoded& pkt;
  Flow& flow;
  bool new_flow;   // this packet created the flow
  Dir dir;         // kToServer: same direction as the flow's first packet
  Timestamp now;
  uint64_t frame;  // 1-based packet number in this worker (replay: pcap frame)
  Decision decision;        // what the packet gets unless a stage changes it
  bool flow_decided = false;  // decision also applies to the rest of the flow

  // This packet only (e.g. dropping one forged DNS answer).
  void decide_packet(const Decision& d) { decision = d; }
  // This packet and every later packet of the flow.
  void decide_flow(const Decision& d) {
    decision = d;
    flow_decided = true;
  }
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  virtual bool likes(const PacketContext& ctx) const = 0;
  virtual Next inspect(PacketContext& ctx) = 0;
  // Called for every flow end, after the flow event is written.
  virtual void on_flow_end(const Flow&, FlowEndReason, Timestamp) {}
};

}  // namespace tripline
