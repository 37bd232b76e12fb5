#include "capture_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tripline {
namespace {

// A record that says which it is: its sequence number, then bytes derived
// from it, `len` bytes in all (at least 8).
std::vector<uint8_t> record(uint64_t seq, size_t len) {
  std::vector<uint8_t> b(len);
  std::memcpy(b.data(), &seq, sizeof seq);
  for (size_t k = sizeof seq; k < len; ++k) b[k] = static_cast<uint8_t>(seq * 131 + k * 7);
  return b;
}

std::vector<uint8_t> pop_one(CaptureRing& r) {
  std::span<const uint8_t> p;
  if (!r.peek(p)) return {0xde, 0xad};  // never a record of these tests
  std::vector<uint8_t> out(p.begin(), p.end());
  r.pop();
  return out;
}

TEST(CaptureRing, CapacityMustBeAPowerOfTwo) {
  EXPECT_THROW(CaptureRing(0), std::invalid_argument);
  EXPECT_THROW(CaptureRing(32), std::invalid_argument);
  EXPECT_THROW(CaptureRing(1000), std::invalid_argument);
  EXPECT_THROW(CaptureRing(uint64_t{1} << 32), std::invalid_argument);
  CaptureRing r(64);
  EXPECT_EQ(r.capacity(), 64u);
  EXPECT_EQ(r.max_payload(), 24u);
}

TEST(CaptureRing, RecordBoundariesArePreserved) {
  CaptureRing r(1024);
  std::vector<std::vector<uint8_t>> sent;
  for (size_t len : {0, 1, 7, 8, 9, 15, 16, 100, 0, 3}) {
    std::vector<uint8_t> b(len);
    for (size_t k = 0; k < len; ++k) b[k] = static_cast<uint8_t>(len + k);
    ASSERT_TRUE(r.push(b));
    sent.push_back(b);
  }
  // A record may come in two parts; it comes out as one.
  ASSERT_TRUE(r.push(std::vector<uint8_t>{1, 2, 3}, std::vector<uint8_t>{4, 5}));
  sent.push_back({1, 2, 3, 4, 5});
  ASSERT_TRUE(r.push({}, std::vector<uint8_t>{9}));
  sent.push_back({9});
  for (const auto& want : sent) {
    std::span<const uint8_t> p;
    ASSERT_TRUE(r.peek(p));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.data()) % 8, 0u) << "payload 8-byte aligned";
    std::span<const uint8_t> again;
    ASSERT_TRUE(r.peek(again));  // peeking twice sees the same record
    EXPECT_EQ(again.data(), p.data());
    EXPECT_EQ(std::vector<uint8_t>(p.begin(), p.end()), want);
    r.pop();
  }
  std::span<const uint8_t> p;
  EXPECT_FALSE(r.peek(p));
}

TEST(CaptureRing, ExactlyFullRefusesThenTakesMoreOnceFreed) {
  CaptureRing r(256);
  // 56-byte payloads: 64-byte frames, four fill the ring to the byte.
  ASSERT_EQ(CaptureRing::frame_bytes(56), 64u);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(r.push(record(i, 56))) << i;
  EXPECT_EQ(r.refresh_backlog(), 256u);
  EXPECT_FALSE(r.push(record(4, 56)));
  EXPECT_FALSE(r.push({}));  // not even an empty record: its header needs 8 bytes
  EXPECT_EQ(pop_one(r), record(0, 56));
  ASSERT_TRUE(r.push(record(4, 56)));  // lands at offset 0 again
  EXPECT_FALSE(r.push(record(5, 56)));
  for (uint64_t i = 1; i <= 4; ++i) EXPECT_EQ(pop_one(r), record(i, 56));
  std::span<const uint8_t> p;
  EXPECT_FALSE(r.peek(p));
  EXPECT_EQ(r.refresh_backlog(), 0u);
}

TEST(CaptureRing, OversizedRecordsAreRefusedWhateverTheRingHolds) {
  CaptureRing r(256);
  EXPECT_EQ(r.max_payload(), 120u);  // a 128-byte frame: half the ring
  EXPECT_FALSE(r.push(std::vector<uint8_t>(121)));
  EXPECT_FALSE(r.push(std::vector<uint8_t>(100), std::vector<uint8_t>(21)));
  EXPECT_FALSE(r.push(std::vector<uint8_t>(1 << 20)));
  // The largest record fits an empty ring wherever the ring's position is.
  for (int offset = 0; offset < 32; ++offset) {
    ASSERT_TRUE(r.push(record(offset, 120))) << "offset " << offset;
    EXPECT_EQ(pop_one(r), record(offset, 120));
    ASSERT_TRUE(r.push(record(offset, 8)));  // moves the position by 16
    EXPECT_EQ(pop_one(r), record(offset, 8));
  }
}

// Records never wrap: one that does not fit before the end of the buffer
// starts again at offset 0 and the rest is skipped.
TEST(CaptureRing, WrapAroundSkipsTheTail) {
  CaptureRing r(256);
  ASSERT_TRUE(r.push(record(0, 100)));  // 112 bytes: 0..111
  ASSERT_TRUE(r.push(record(1, 100)));  // 112..223
  EXPECT_EQ(pop_one(r), record(0, 100));
  // 32 bytes left at the end, 112 free at the start: a 48-byte frame goes to 0.
  ASSERT_TRUE(r.push(record(2, 40)));
  // In use: 0..47 and 112..223. The 64 bytes between them take one more frame.
  ASSERT_TRUE(r.push(record(3, 56)));
  EXPECT_FALSE(r.push(record(4, 8)));  // full: 224 bytes used, 32 skipped
  EXPECT_EQ(pop_one(r), record(1, 100));
  EXPECT_EQ(pop_one(r), record(2, 40));
  EXPECT_EQ(pop_one(r), record(3, 56));
  std::span<const uint8_t> p;
  EXPECT_FALSE(r.peek(p));

  // Many records of varying sizes through the small ring, interleaved.
  std::mt19937_64 rng(5);
  uint64_t next_push = 10, next_pop = 10, refused = 0;
  std::vector<uint64_t> refused_seqs;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 3) {
      size_t len = 8 + rng() % (r.max_payload() - 7);
      if (r.push(record(next_push, len))) {
        ++next_push;
      } else {
        ++refused;
      }
    } else if (r.peek(p)) {
      ASSERT_GE(p.size(), 8u);
      uint64_t seq;
      std::memcpy(&seq, p.data(), sizeof seq);
      ASSERT_EQ(seq, next_pop);
      ASSERT_EQ(std::vector<uint8_t>(p.begin(), p.end()), record(seq, p.size()));
      r.pop();
      ++next_pop;
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(next_pop, 1000u);
}

TEST(CaptureRing, ConsumeTakesWhatWasPublishedWhenCalled) {
  CaptureRing r(1024);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(r.push(record(i, 16)));
  std::vector<uint64_t> seen;
  size_t n = r.consume([&](std::span<const uint8_t> p) {
    uint64_t seq;
    std::memcpy(&seq, p.data(), sizeof seq);
    seen.push_back(seq);
    r.push(record(seq + 10, 16));  // published meanwhile: left for the next call
  });
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2}));
  seen.clear();
  EXPECT_EQ(r.consume([&](std::span<const uint8_t> p) {
    uint64_t seq;
    std::memcpy(&seq, p.data(), sizeof seq);
    seen.push_back(seq);
  }),
            3u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(r.consume([](std::span<const uint8_t>) {}), 0u);
}

TEST(CaptureRing, BacklogCountsFramesUntilFreed) {
  CaptureRing r(256);
  EXPECT_EQ(r.backlog_estimate(), 0u);
  ASSERT_TRUE(r.push(record(0, 20)));  // 32-byte frame
  ASSERT_TRUE(r.push(record(1, 20)));
  EXPECT_EQ(r.backlog_estimate(), 64u);
  pop_one(r);
  EXPECT_EQ(r.backlog_estimate(), 64u);  // the producer has not looked again
  EXPECT_EQ(r.refresh_backlog(), 32u);
}

// One producer thread, one consumer thread, a small ring: every record
// arrives whole and in order, or the producer was told it was refused. Also
// run under ThreadSanitizer.
TEST(CaptureRing, TwoThreadsEveryRecordArrivesIntactInOrderOrIsRefused) {
  constexpr uint64_t kRecords = 200000;
  CaptureRing r(4096);
  std::vector<uint64_t> refused;  // producer's
  std::vector<uint64_t> arrived;  // consumer's
  std::atomic<bool> done{false};
  std::atomic<uint64_t> bad{0};
  refused.reserve(kRecords);
  arrived.reserve(kRecords);

  std::thread consumer([&] {
    std::mt19937_64 rng(2);
    auto take = [&](std::span<const uint8_t> p) {
      uint64_t seq = 0;
      if (p.size() < sizeof seq) {
        bad.fetch_add(1);
        return;
      }
      std::memcpy(&seq, p.data(), sizeof seq);
      if (std::vector<uint8_t>(p.begin(), p.end()) != record(seq, p.size())) bad.fetch_add(1);
      arrived.push_back(seq);
    };
    for (;;) {
      bool finished = done.load(std::memory_order_acquire);
      // Both ways of consuming, and now and then a pause so the ring fills.
      if (rng() % 2) {
        r.consume(take);
      } else {
        std::span<const uint8_t> p;
        while (r.peek(p)) {
          take(p);
          r.pop();
        }
      }
      if (finished) break;  // everything published before `done` is taken
      if (rng() % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });

  std::mt19937_64 rng(1);
  for (uint64_t seq = 0; seq < kRecords; ++seq) {
    size_t len = 8 + rng() % 300;
    if (!r.push(record(seq, len))) refused.push_back(seq);
    if (rng() % 1024 == 0) std::this_thread::yield();
  }
  done.store(true, std::memory_order_release);
  consumer.join();

  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(arrived.size() + refused.size(), kRecords);
  EXPECT_GT(arrived.size(), 0u);
  // Merged, the two lists are 0..kRecords-1 exactly once each, each in order.
  size_t a = 0, f = 0;
  for (uint64_t seq = 0; seq < kRecords; ++seq) {
    if (a < arrived.size() && arrived[a] == seq) {
      ++a;
    } else if (f < refused.size() && refused[f] == seq) {
      ++f;
    } else {
      FAIL() << "record " << seq << " neither arrived (in order) nor was refused";
    }
  }
  std::span<const uint8_t> p;
  EXPECT_FALSE(r.peek(p));
}

}  // namespace
}  // namespace tripline
