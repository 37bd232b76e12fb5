#include "verdict_batcher.h"

#include <gtest/gtest.h>
#include <linux/netfilter.h>

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace tripline {
namespace {

using Kind = VerdictMessage::Kind;

constexpr NfVerdict kAccept{NF_ACCEPT, false, 0};
constexpr NfVerdict kDrop{NF_DROP, false, 0};
constexpr NfVerdict kReject{NF_REPEAT, true, 0x7e1};  // reject: repeat with the reject mark
constexpr NfVerdict kAcceptMarked{NF_ACCEPT, true, 0x42};

// A message as the sink saw it, replacement bytes copied (the batcher only
// lends them for the call).
struct Sent {
  Kind kind;
  uint32_t id;
  NfVerdict verdict;
  std::vector<uint8_t> replacement;
};

struct RecordingSink : VerdictSink {
  void put(const VerdictMessage& m) override {
    sent.push_back({m.kind, m.id, m.verdict, {m.replacement.begin(), m.replacement.end()}});
  }
  std::vector<Sent> sent;
};

// What one packet ended up with in the kernel.
struct Applied {
  NfVerdict verdict;
  std::vector<uint8_t> replacement;
};

// The kernel side, modelled on net/netfilter/nfnetlink_queue.c and written
// without looking at the batcher: packets wait in the order they were queued;
// NFQNL_MSG_VERDICT dequeues the packet with its id (an error when none is
// queued); NFQNL_MSG_VERDICT_BATCH dequeues from the front every packet whose
// id is not after the batch id, in 32-bit sequence arithmetic (nfq_id_after),
// and sets the verdict and mark on each (an error when it takes none).
class KernelQueue {
 public:
  void enqueue(uint32_t id) { queue_.push_back(id); }

  void apply(const Sent& m) {
    if (m.kind == Kind::Single) {
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (*it != m.id) continue;
        record(*it, m);
        queue_.erase(it);
        return;
      }
      errors.push_back("verdict for id " + std::to_string(m.id) + " which is not queued");
      return;
    }
    if (!m.replacement.empty()) errors.push_back("a batch verdict carries a packet");
    size_t taken = 0;
    while (!queue_.empty() && !id_after(queue_.front(), m.id)) {
      record(queue_.front(), m);
      queue_.pop_front();
      ++taken;
    }
    if (taken == 0) errors.push_back("batch verdict up to " + std::to_string(m.id) + " took none");
  }

  const std::deque<uint32_t>& queued() const { return queue_; }
  std::map<uint32_t, std::vector<Applied>> applied;
  std::vector<std::string> errors;

 private:
  static bool id_after(uint32_t id, uint32_t max) { return static_cast<int32_t>(id - max) > 0; }
  void record(uint32_t id, const Sent& m) { applied[id].push_back({m.verdict, m.replacement}); }

  std::deque<uint32_t> queue_;
};

// --- hand cases ---

TEST(VerdictBatcher, OnePacketIsASingleVerdict) {
  RecordingSink sink;
  VerdictBatcher b(sink);
  b.add(7, kDrop);
  EXPECT_TRUE(sink.sent.empty());
  EXPECT_EQ(b.pending(), 1u);
  b.flush();
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0].kind, Kind::Single);
  EXPECT_EQ(sink.sent[0].id, 7u);
  EXPECT_EQ(sink.sent[0].verdict, kDrop);
  EXPECT_EQ(b.pending(), 0u);
  b.flush();  // nothing open: nothing sent
  EXPECT_EQ(sink.sent.size(), 1u);
}

TEST(VerdictBatcher, RunsOfEqualVerdictsShareABatchMessage) {
  RecordingSink sink;
  VerdictBatcher b(sink);
  for (uint32_t id = 1; id <= 5; ++id) b.add(id, kAccept);
  b.add(6, kDrop);
  b.add(7, kAcceptMarked);
  b.add(8, kAcceptMarked);
  b.add(9, kAccept);
  b.flush();
  ASSERT_EQ(sink.sent.size(), 4u);
  EXPECT_EQ(sink.sent[0].kind, Kind::Batch);
  EXPECT_EQ(sink.sent[0].id, 5u);
  EXPECT_EQ(sink.sent[0].verdict, kAccept);
  EXPECT_EQ(sink.sent[1].kind, Kind::Single);
  EXPECT_EQ(sink.sent[1].id, 6u);
  // A mark is part of the verdict: equal marks batch, and the batch carries it.
  EXPECT_EQ(sink.sent[2].kind, Kind::Batch);
  EXPECT_EQ(sink.sent[2].id, 8u);
  EXPECT_EQ(sink.sent[2].verdict, kAcceptMarked);
  EXPECT_EQ(sink.sent[3].kind, Kind::Single);
  EXPECT_EQ(sink.sent[3].id, 9u);
  EXPECT_EQ(sink.sent[3].verdict, kAccept);
}

TEST(VerdictBatcher, DifferentMarksDoNotBatch) {
  RecordingSink sink;
  VerdictBatcher b(sink);
  b.add(1, NfVerdict{NF_ACCEPT, true, 1});
  b.add(2, NfVerdict{NF_ACCEPT, true, 2});
  b.add(3, NfVerdict{NF_ACCEPT, false, 1});
  b.add(4, NfVerdict{NF_ACCEPT, false, 1});
  b.flush();
  ASSERT_EQ(sink.sent.size(), 3u);
  EXPECT_EQ(sink.sent[0].verdict.mark, 1u);
  EXPECT_EQ(sink.sent[1].verdict.mark, 2u);
  EXPECT_EQ(sink.sent[2].kind, Kind::Batch);
  EXPECT_EQ(sink.sent[2].id, 4u);
}

TEST(VerdictBatcher, ReplacedPacketClosesTheRunAndGoesAlone) {
  RecordingSink sink;
  VerdictBatcher b(sink);
  b.add(10, kAccept);
  b.add(11, kAccept);
  std::vector<uint8_t> bytes = {0x45, 0, 0, 20};
  b.add_replaced(12, kAccept, bytes);
  // Sent at once: the bytes are only lent for the call.
  ASSERT_EQ(sink.sent.size(), 2u);
  EXPECT_EQ(b.pending(), 0u);
  bytes.assign(4, 0xff);
  b.add(13, kAccept);
  b.flush();
  ASSERT_EQ(sink.sent.size(), 3u);
  EXPECT_EQ(sink.sent[0].kind, Kind::Batch);
  EXPECT_EQ(sink.sent[0].id, 11u);
  EXPECT_EQ(sink.sent[1].kind, Kind::Single);
  EXPECT_EQ(sink.sent[1].id, 12u);
  EXPECT_EQ(sink.sent[1].replacement, (std::vector<uint8_t>{0x45, 0, 0, 20}));
  EXPECT_EQ(sink.sent[2].kind, Kind::Single);
  EXPECT_EQ(sink.sent[2].id, 13u);
  EXPECT_TRUE(sink.sent[2].replacement.empty());
}

// An offloading verdict (a mark for its own packet only) goes alone: a batch
// would also take packets the kernel queued but never delivered (ENOBUFS) and
// set the mark on them, also when two equal ones follow each other.
TEST(VerdictBatcher, SingleVerdictsGoAloneAndCoverNoLostPacket) {
  RecordingSink sink;
  VerdictBatcher b(sink);
  KernelQueue kernel;
  for (uint32_t id = 1; id <= 7; ++id) kernel.enqueue(id);  // 5 is never read
  const NfVerdict offload{NF_ACCEPT, true, 0x10000000};
  b.add(1, kAccept);
  b.add(2, kAccept);
  b.add_single(3, offload);
  EXPECT_EQ(b.pending(), 0u);  // emitted at once, the run before it first
  ASSERT_EQ(sink.sent.size(), 2u);
  b.add(4, kAccept);
  b.add_single(6, offload);
  b.add_single(7, offload);
  b.flush();
  ASSERT_EQ(sink.sent.size(), 5u);
  const Kind kinds[] = {Kind::Batch, Kind::Single, Kind::Single, Kind::Single, Kind::Single};
  const uint32_t ids[] = {2, 3, 4, 6, 7};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(sink.sent[i].kind, kinds[i]) << i;
    EXPECT_EQ(sink.sent[i].id, ids[i]) << i;
  }
  for (const Sent& m : sink.sent) kernel.apply(m);
  EXPECT_TRUE(kernel.errors.empty());
  EXPECT_EQ(kernel.applied.count(5), 0u);  // the lost packet got no mark
  ASSERT_EQ(kernel.queued().size(), 1u);
  EXPECT_EQ(kernel.queued().front(), 5u);
  EXPECT_EQ(kernel.applied[7][0].verdict, offload);
}

TEST(VerdictBatcher, FlushEndsARun) {
  RecordingSink sink;
  VerdictBatcher b(sink);
  b.add(1, kAccept);
  b.add(2, kAccept);
  b.flush();
  b.add(3, kAccept);
  b.add(4, kAccept);
  b.flush();
  ASSERT_EQ(sink.sent.size(), 2u);
  EXPECT_EQ(sink.sent[0].id, 2u);
  EXPECT_EQ(sink.sent[1].id, 4u);
  EXPECT_EQ(sink.sent[1].kind, Kind::Batch);
}

// The kernel's ids are a 32-bit sequence that wraps; a batch up to id 1
// covers 0xfffffffe..1 and nothing queued after it.
TEST(VerdictBatcher, BatchAcrossTheIdWrap) {
  RecordingSink sink;
  VerdictBatcher b(sink);
  KernelQueue kernel;
  const uint32_t ids[] = {0xfffffffeu, 0xffffffffu, 0u, 1u, 2u};
  for (uint32_t id : ids) kernel.enqueue(id);
  for (uint32_t id : {0xfffffffeu, 0xffffffffu, 0u, 1u}) b.add(id, kAccept);
  b.flush();
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0].kind, Kind::Batch);
  EXPECT_EQ(sink.sent[0].id, 1u);
  kernel.apply(sink.sent[0]);
  EXPECT_TRUE(kernel.errors.empty());
  EXPECT_EQ(kernel.applied.size(), 4u);
  ASSERT_EQ(kernel.queued().size(), 1u);
  EXPECT_EQ(kernel.queued().front(), 2u);  // not yet read: untouched
}

// --- property: every id gets exactly one verdict, in order, the one it was given ---

struct Given {
  uint32_t id;
  NfVerdict verdict;
  std::vector<uint8_t> replacement;  // empty: not replaced
  bool single = false;               // given with add_single (its own packet only)
};

// Marks only add_single() verdicts carry here (random_verdict's are below).
constexpr uint32_t kSingleMark = 0x10000000;

NfVerdict random_verdict(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
    case 1:
      return kAccept;
    case 2:
      return kDrop;
    case 3:
      return kReject;
    case 4:
      return kAcceptMarked;
    default:
      return NfVerdict{NF_ACCEPT, true, static_cast<uint32_t>(rng() % 3)};
  }
}

TEST(VerdictBatcher, PropertyEveryQueuedPacketGetsExactlyItsVerdict) {
  std::mt19937_64 rng(20240611);
  for (int round = 0; round < 2000; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Ids start anywhere, often just before the 32-bit wrap.
    uint32_t id = rng() % 3 == 0 ? 0xffffffffu - static_cast<uint32_t>(rng() % 200)
                                 : static_cast<uint32_t>(rng());
    const size_t packets = 1 + rng() % 300;
    const unsigned same_pct = static_cast<unsigned>(rng() % 100);  // run lengths
    const unsigned replace_pct = static_cast<unsigned>(rng() % 10);
    const unsigned gap_pct = static_cast<unsigned>(rng() % 15);
    const unsigned single_pct = static_cast<unsigned>(rng() % 10);
    const size_t recv_batch = 1 + rng() % 64;  // packets per receive batch, then a flush

    KernelQueue kernel;
    std::vector<Given> given;  // the packets the source read, in order
    std::vector<uint32_t> lost;
    NfVerdict last = kAccept;
    for (size_t i = 0; i < packets; ++i) {
      // A gap: an id the source never reads. Either the kernel never queued it
      // to us, or its message was lost (ENOBUFS) and it waits in the queue.
      while (rng() % 100 < gap_pct) {
        if (rng() % 2) {
          kernel.enqueue(id);
          lost.push_back(id);
        }
        ++id;
      }
      Given g{id++, rng() % 100 < same_pct ? last : random_verdict(rng), {}};
      if (rng() % 100 < replace_pct) {
        g.replacement.resize(1 + rng() % 40);
        for (auto& byte : g.replacement) byte = static_cast<uint8_t>(rng());
      } else if (rng() % 100 < single_pct) {
        g.single = true;
        g.verdict = NfVerdict{NF_ACCEPT, true, kSingleMark | static_cast<uint32_t>(rng() % 2)};
      }
      if (!g.single) last = g.verdict;  // a run goes on with batchable verdicts only
      kernel.enqueue(g.id);
      given.push_back(std::move(g));
    }
    // Packets the kernel queued after the last one read stay untouched.
    for (int i = 0; i < 3; ++i) kernel.enqueue(id++);

    RecordingSink sink;
    VerdictBatcher batcher(sink);
    size_t expected_messages = 0;
    // An independent count of runs: the verdict of the open run, if any.
    bool run_open = false;
    NfVerdict open_run;
    size_t in_batch = 0, next_flush = 1 + rng() % recv_batch;
    std::vector<uint8_t> worker_buffer;
    for (const Given& g : given) {
      if (!g.replacement.empty()) {
        worker_buffer = g.replacement;
        batcher.add_replaced(g.id, g.verdict, worker_buffer);
        worker_buffer.assign(worker_buffer.size(), 0);  // the worker reuses its buffer
        run_open = false;
        ++expected_messages;
      } else if (g.single) {
        batcher.add_single(g.id, g.verdict);
        run_open = false;
        ++expected_messages;
      } else {
        batcher.add(g.id, g.verdict);
        if (!run_open || !(open_run == g.verdict)) {
          ++expected_messages;
          open_run = g.verdict;
          run_open = true;
        }
      }
      if (++in_batch == next_flush) {  // the end of a receive batch (or a drain step)
        batcher.flush();
        EXPECT_EQ(batcher.pending(), 0u);
        run_open = false;
        in_batch = 0;
        next_flush = 1 + rng() % recv_batch;
      }
    }
    batcher.flush();
    ASSERT_EQ(batcher.pending(), 0u);

    // Batching is effective: one message per run of equal verdicts between flushes.
    EXPECT_EQ(sink.sent.size(), expected_messages);
    for (const Sent& m : sink.sent) kernel.apply(m);
    ASSERT_TRUE(kernel.errors.empty()) << kernel.errors.front();

    for (const Given& g : given) {
      auto it = kernel.applied.find(g.id);
      ASSERT_NE(it, kernel.applied.end()) << "id " << g.id << " got no verdict";
      ASSERT_EQ(it->second.size(), 1u) << "id " << g.id << " got several verdicts";
      EXPECT_EQ(it->second[0].verdict, g.verdict) << "id " << g.id;
      EXPECT_EQ(it->second[0].replacement, g.replacement) << "id " << g.id;
    }
    // A lost packet is covered at most once, by a batch that reached past it.
    // A verdict given for its own packet only never lands on a lost one.
    for (uint32_t l : lost) {
      auto it = kernel.applied.find(l);
      if (it != kernel.applied.end()) {
        EXPECT_EQ(it->second.size(), 1u);
        EXPECT_FALSE(it->second[0].verdict.has_mark &&
                     (it->second[0].verdict.mark & kSingleMark) != 0)
            << "lost id " << l << " got a single packet's mark";
      }
    }
    // Nothing read is left queued: what remains is lost packets or ones not yet read.
    for (uint32_t q : kernel.queued()) {
      for (const Given& g : given) ASSERT_NE(q, g.id) << "id " << q << " still queued";
    }
    // In order: every message names an id at or after the previous one's.
    for (size_t i = 1; i < sink.sent.size(); ++i)
      EXPECT_GT(static_cast<int32_t>(sink.sent[i].id - sink.sent[i - 1].id), 0);
  }
}

}  // namespace
}  // namespace tripline
