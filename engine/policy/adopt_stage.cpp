#include "adopt_stage.h"

namespace tripline {

std::shared_ptr<const AdoptedSet> make_adopted_set(const std::vector<CtTuple>& established) {
  auto set = std::make_shared<AdoptedSet>();
  set->reserve(established.size());
  for (const CtTuple& t : established) set->insert(t.canonical());
  return set;
}

Next AdoptStage::inspect(PacketContext& ctx) {
  constexpr uint8_t kSyn = 0x02, kAck = 0x10;
  const Flow& f = ctx.flow;
  if (f.proto() == 6 && (ctx.pkt.tcp_flags & (kSyn | kAck)) == kSyn) return Next::Continue;
  const CtTuple t{f.key.lo, f.key.hi, f.key.lo_port, f.key.hi_port, f.proto()};
  if (!set_->contains(t)) return Next::Continue;
  Decision d;
  d.verdict = Verdict::Accept;
  d.reason = "adopted";
  ctx.decide_flow(d);
  env_.counters().adopted.add();
  return Next::Stop;
}

}  // namespace tripline
