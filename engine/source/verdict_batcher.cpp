#include "verdict_batcher.h"

namespace tripline {

void VerdictBatcher::add(uint32_t id, const NfVerdict& v) {
  if (run_len_ > 0 && v == run_verdict_) {
    run_last_id_ = id;
    ++run_len_;
    return;
  }
  flush();
  run_verdict_ = v;
  run_last_id_ = id;
  run_len_ = 1;
}

void VerdictBatcher::add_replaced(uint32_t id, const NfVerdict& v,
                                  std::span<const uint8_t> replacement) {
  // Batch messages carry no packet (nor a mark for one packet only): this one
  // needs its own, and the run before it must reach the kernel first.
  flush();
  sink_.put(VerdictMessage{VerdictMessage::Kind::Single, id, v, replacement});
}

void VerdictBatcher::flush() {
  if (run_len_ == 0) return;
  // A batch verdict covers every outstanding id <= run_last_id_. Messages go
  // out in id order, so all packets before this run already have theirs.
  auto kind = run_len_ == 1 ? VerdictMessage::Kind::Single : VerdictMessage::Kind::Batch;
  run_len_ = 0;
  sink_.put(VerdictMessage{kind, run_last_id_, run_verdict_, {}});
}

}  // namespace tripline
