// Per-worker counters: one writer, readers at any time (SIGUSR1, metrics).
// Also run under ThreadSanitizer (the tsan preset).
#include "counters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace tripline {
namespace {

TEST(Counters, ReadersSeeMonotonicValuesWhileTheWorkerCounts) {
  Counters counters;
  constexpr uint64_t kAdds = 200000;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    for (uint64_t i = 0; i < kAdds; ++i) {
      counters.packets.add();
      counters.bytes.add(100);
    }
    done.store(true, std::memory_order_release);
  });
  uint64_t last_packets = 0;
  while (!done.load(std::memory_order_acquire)) {
    CounterSnapshot snap;
    snap.add(counters);
    EXPECT_GE(snap.packets, last_packets);
    EXPECT_LE(snap.packets, kAdds);
    last_packets = snap.packets;
  }
  worker.join();
  CounterSnapshot snap;
  snap.add(counters);
  EXPECT_EQ(snap.packets, kAdds);
  EXPECT_EQ(snap.bytes, kAdds * 100);
}

TEST(Counters, SnapshotMergesWorkersAndPrintsEveryCounter) {
  Counters a, b;
  a.packets.add(3);
  b.packets.add(4);
  b.decode_error[1].add(2);
  CounterSnapshot snap;
  snap.add(a);
  snap.add(b);
  EXPECT_EQ(snap.packets, 7u);
  std::string text = snap.to_text();
  EXPECT_NE(text.find("packets"), std::string::npos);
  EXPECT_NE(text.find("decode_error."), std::string::npos);
  std::string json = snap.to_json();
  EXPECT_NE(json.find("\"packets\":7"), std::string::npos);
}

// Named counters (one per policy rule) are summed by name over the workers
// and printed after the fixed ones, in the text and the JSON form.
TEST(Counters, NamedCountersMergeByNameAcrossWorkers) {
  Counters a, b;
  a.named.add("rule.x").add(2);
  a.named.add("rule.y").add(1);
  b.named.add("rule.x").add(3);
  b.named.add("rule.z");
  CounterSnapshot snap;
  snap.add(a);
  snap.add(b);
  ASSERT_EQ(snap.named.size(), 3u);
  EXPECT_EQ(snap.named[0], (std::pair<std::string, uint64_t>{"rule.x", 5}));
  EXPECT_EQ(snap.named[1], (std::pair<std::string, uint64_t>{"rule.y", 1}));
  EXPECT_EQ(snap.named[2], (std::pair<std::string, uint64_t>{"rule.z", 0}));
  std::string text = snap.to_text();
  EXPECT_NE(text.find("\nrule.x "), std::string::npos) << text;
  std::string json = snap.to_json();
  EXPECT_NE(json.find("\"rule.x\":5,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"rule.z\":0,"), std::string::npos) << json;
}

}  // namespace
}  // namespace tripline
