// The verdict a decision turns into (NF_* code and packet mark, with the
// offload mark arithmetic) and how the live source hands it to the batcher:
// an offloading verdict goes alone, and the caller sends it at once.
#include "nf_verdict.h"

#include <gtest/gtest.h>
#include <linux/netfilter.h>

#include <vector>

namespace tripline {
namespace {

using Kind = VerdictMessage::Kind;

struct RecordingSink : VerdictSink {
  void put(const VerdictMessage& m) override { sent.push_back(m); }
  std::vector<VerdictMessage> sent;  // no replacements here: nothing borrowed
};

Decision accept() { return Decision{}; }
Decision offloading() {
  Decision d;
  d.offload = true;
  return d;
}

TEST(OffloadPacketMark, ReplacesOnlyTheMaskBits) {
  OffloadConfig cfg;  // mark 0x10000000, mask 0x30000000
  EXPECT_EQ(offload_packet_mark(0, cfg), 0x10000000u);
  EXPECT_EQ(offload_packet_mark(0x0000abcd, cfg), 0x1000abcdu);  // other users' bits stay
  EXPECT_EQ(offload_packet_mark(0x2000abcd, cfg), 0x1000abcdu);  // our other bit is cleared
  EXPECT_EQ(offload_packet_mark(0x3000abcd, cfg), 0x1000abcdu);
  EXPECT_EQ(offload_packet_mark(0xffffffff, cfg), 0xdfffffffu);
  OffloadConfig low;
  low.mark = 0x100;
  low.mask = 0x300;
  EXPECT_EQ(offload_packet_mark(0x2ff, low), 0x1ffu);
  EXPECT_EQ(offload_packet_mark(0xf000, low), 0xf100u);
}

TEST(NfVerdict, OffloadingAcceptCarriesThePacketMarkWithTheOffloadBits) {
  OffloadConfig cfg;
  // By default back through the queue's chain, whose save rule takes it.
  NfVerdict v = to_nf_verdict(offloading(), 0x00000042, cfg);
  EXPECT_EQ(v.verdict, static_cast<uint32_t>(NF_REPEAT));
  EXPECT_TRUE(v.has_mark);
  EXPECT_EQ(v.mark, 0x10000042u);
  // For a ruleset whose save rule is in postrouting: on, with the same mark.
  EXPECT_EQ(to_nf_verdict(offloading(), 0x42, cfg, OffloadVerdict::Accept),
            (NfVerdict{NF_ACCEPT, true, 0x10000042}));
  // Without the flag the packet keeps its mark (no mark in the verdict).
  v = to_nf_verdict(accept(), 0x00000042, cfg);
  EXPECT_EQ(v, (NfVerdict{NF_ACCEPT, false, 0}));
  // A decision's own mark wins (the worker never offloads with one).
  Decision marked = offloading();
  marked.has_mark = true;
  marked.mark = 0x7;
  EXPECT_EQ(to_nf_verdict(marked, 0x42, cfg), (NfVerdict{NF_ACCEPT, true, 0x7}));
  // Drops and rejects never carry the offload mark.
  Decision drop = offloading();
  drop.verdict = Verdict::Drop;
  EXPECT_EQ(to_nf_verdict(drop, 0x42, cfg), (NfVerdict{NF_DROP, false, 0}));
  EXPECT_EQ(to_nf_verdict(drop, 0x42, cfg, OffloadVerdict::Accept), (NfVerdict{NF_DROP, false, 0}));
  Decision reject;
  reject.verdict = Verdict::Reject;
  reject.has_mark = true;
  reject.mark = 0x7470;
  EXPECT_EQ(to_nf_verdict(reject, 0, cfg), (NfVerdict{NF_REPEAT, true, 0x7470}));
  reject.has_mark = false;
  EXPECT_EQ(to_nf_verdict(reject, 0, cfg), (NfVerdict{NF_DROP, false, 0}));
}

// Accepts batch; each offloading verdict splits the run and goes alone, also
// when two equal ones follow each other; the caller is told to send them.
TEST(NfVerdict, OffloadingVerdictsSplitTheBatch) {
  OffloadConfig cfg;
  RecordingSink sink;
  VerdictBatcher b(sink);
  std::vector<bool> send_now;
  auto give = [&](uint32_t id, const Decision& d, uint32_t mark) {
    send_now.push_back(add_verdict(b, id, d, mark, cfg));
  };
  give(1, accept(), 0);
  give(2, accept(), 0x5);
  give(3, offloading(), 0x5);
  give(4, accept(), 0);
  give(5, accept(), 0);
  give(6, offloading(), 0);
  give(7, offloading(), 0);
  Decision drop;
  drop.verdict = Verdict::Drop;
  give(8, drop, 0);
  b.flush();
  EXPECT_EQ(send_now, (std::vector<bool>{false, false, true, false, false, true, true, false}));
  ASSERT_EQ(sink.sent.size(), 6u);
  EXPECT_EQ(sink.sent[0].kind, Kind::Batch);
  EXPECT_EQ(sink.sent[0].id, 2u);
  EXPECT_EQ(sink.sent[0].verdict, (NfVerdict{NF_ACCEPT, false, 0}));
  EXPECT_EQ(sink.sent[1].kind, Kind::Single);
  EXPECT_EQ(sink.sent[1].id, 3u);
  EXPECT_EQ(sink.sent[1].verdict, (NfVerdict{NF_REPEAT, true, 0x10000005}));
  EXPECT_EQ(sink.sent[2].kind, Kind::Batch);
  EXPECT_EQ(sink.sent[2].id, 5u);
  EXPECT_EQ(sink.sent[3].kind, Kind::Single);
  EXPECT_EQ(sink.sent[3].id, 6u);
  EXPECT_EQ(sink.sent[3].verdict, (NfVerdict{NF_REPEAT, true, 0x10000000}));
  EXPECT_EQ(sink.sent[4].kind, Kind::Single);  // equal to the one before, still alone
  EXPECT_EQ(sink.sent[4].id, 7u);
  EXPECT_EQ(sink.sent[4].verdict, (NfVerdict{NF_REPEAT, true, 0x10000000}));
  EXPECT_EQ(sink.sent[5].kind, Kind::Single);
  EXPECT_EQ(sink.sent[5].id, 8u);
  EXPECT_EQ(sink.sent[5].verdict, (NfVerdict{NF_DROP, false, 0}));
}

// A packet that comes back with the offload bits of its mark set is one of our
// offloading verdicts' (nothing before the queue rule saved and accepted it);
// other marks, or offload off, are not.
TEST(NfVerdict, ReturnedOffloadPacketsAreKnownByTheirMark) {
  OffloadConfig cfg;  // mark 0x10000000, mask 0x30000000
  cfg.enabled = true;
  EXPECT_TRUE(is_returned_offload(offload_packet_mark(0x42, cfg), cfg));
  EXPECT_TRUE(is_returned_offload(0x10000000, cfg));
  EXPECT_FALSE(is_returned_offload(0, cfg));
  EXPECT_FALSE(is_returned_offload(0x42, cfg));
  EXPECT_FALSE(is_returned_offload(0x30000000, cfg));  // both bits: not our accept mark
  EXPECT_FALSE(is_returned_offload(0x20000000, cfg));  // the drop mark is never in a verdict
  cfg.enabled = false;
  EXPECT_FALSE(is_returned_offload(0x10000000, cfg));
}

// A replaced packet still goes with its bytes; an offload flag never rides on it.
TEST(NfVerdict, ReplacedPacketsGoWithTheirBytes) {
  OffloadConfig cfg;
  RecordingSink sink;
  VerdictBatcher b(sink);
  const uint8_t bytes[4] = {0x45, 0, 0, 4};
  Decision d = offloading();
  d.replacement = bytes;
  EXPECT_FALSE(add_verdict(b, 1, d, 0, cfg));
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0].kind, Kind::Single);
  EXPECT_EQ(sink.sent[0].replacement.size(), 4u);
  EXPECT_FALSE(sink.sent[0].verdict.has_mark);
}

}  // namespace
}  // namespace tripline
