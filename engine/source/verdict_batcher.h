// The NFQUEUE verdict batcher: turns per-packet verdicts, given in the order the
// kernel queued the packets, into verdict messages (one packet, or a batch
// "every queued packet up to this id"). Pure: no netlink, no I/O; the source
// turns each message into NFQNL_MSG_VERDICT / NFQNL_MSG_VERDICT_BATCH.
#pragma once

#include <cstdint>
#include <span>

namespace tripline {

// What the kernel is told for one packet. `verdict` is the NF_* code (opaque
// here: only compared); consecutive packets with equal NfVerdicts share one
// batch message.
struct NfVerdict {
  uint32_t verdict = 0;
  bool has_mark = false;
  uint32_t mark = 0;
  friend bool operator==(const NfVerdict&, const NfVerdict&) = default;
};

struct VerdictMessage {
  enum class Kind : uint8_t {
    Single,  // for packet `id` only (NFQNL_MSG_VERDICT)
    Batch,   // for every packet still queued with an id up to `id` (NFQNL_MSG_VERDICT_BATCH)
  };
  Kind kind = Kind::Single;
  uint32_t id = 0;
  NfVerdict verdict;
  // Single only: the packet goes out as these bytes. Borrowed for the call.
  std::span<const uint8_t> replacement;
};

// Receives the messages in the order they must reach the kernel.
class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  virtual void put(const VerdictMessage& msg) = 0;
};

// Packet ids must come in the kernel's order (each the next queued id; gaps
// and the 32-bit wrap are fine), each id once. A batch message then covers
// exactly the packets of one run: the kernel applies it to every still-queued
// id up to its own (wrap-aware), and every earlier packet already had its
// message. A run of one packet goes out as a single message. Marks ride on
// batch messages too (the kernel sets the mark on each packet of the batch).
// A verdict that must reach its own packet and no other goes through
// add_single(): a batch would also cover ids the kernel queued but could not
// deliver to us (ENOBUFS), and a mark meant for one packet must not land on
// those. Nothing allocates.
class VerdictBatcher {
 public:
  explicit VerdictBatcher(VerdictSink& sink) : sink_(sink) {}
  VerdictBatcher(const VerdictBatcher&) = delete;
  VerdictBatcher& operator=(const VerdictBatcher&) = delete;

  // Extends the open run when `v` equals its verdict, else closes it and
  // opens a new one. May emit the closed run's message.
  void add(uint32_t id, const NfVerdict& v);
  // A verdict for this packet only (an offload mark, engine/conntrack): closes
  // the open run, then emits a single message, never part of a batch.
  void add_single(uint32_t id, const NfVerdict& v) { add_replaced(id, v, {}); }
  // A packet that goes out replaced: closes the open run, then emits a single
  // message carrying `replacement` (borrowed only for this call).
  void add_replaced(uint32_t id, const NfVerdict& v, std::span<const uint8_t> replacement);
  // Emits the open run's message: after it every packet given so far has its
  // message.
  void flush();

  // Packets given but not yet in an emitted message (the open run's length).
  uint32_t pending() const { return run_len_; }

 private:
  VerdictSink& sink_;
  NfVerdict run_verdict_;
  uint32_t run_last_id_ = 0;
  uint32_t run_len_ = 0;
};

}  // namespace tripline
