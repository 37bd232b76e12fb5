// The flow table's hash index (engine/flow/slot_index.h) against a reference
// map: random inserts and erases, with hashes drawn from a tiny range so runs
// of colliding entries wrap around the end of the array and deletion has to
// shift them back.
#include "slot_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace tripline {
namespace {

TEST(SlotIndex, MatchesAReferenceMapUnderChurn) {
  for (uint64_t spread : {uint64_t{4}, uint64_t{1} << 40}) {
    constexpr size_t kCapacity = 40;
    SlotIndex index(kCapacity);
    std::map<uint32_t, uint64_t> live;  // slot -> hash
    std::mt19937_64 rng(spread);
    // Hashes near the end of the array, so runs wrap around to its start.
    const uint64_t base = index.buckets() - 3;
    uint32_t next_slot = 1;
    for (int step = 0; step < 20'000; ++step) {
      const bool add = live.size() < kCapacity && (live.empty() || rng() % 2 == 0);
      if (add) {
        const uint64_t hash = base + rng() % spread;
        const uint32_t slot = next_slot++;
        index.insert(hash, slot);
        live[slot] = hash;
      } else {
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng() % live.size()));
        ASSERT_TRUE(index.erase(it->second, it->first));
        ASSERT_FALSE(index.erase(it->second, it->first));  // gone
        live.erase(it);
      }
      ASSERT_EQ(index.size(), live.size());
      for (const auto& [slot, hash] : live) {
        const uint32_t s = slot;
        ASSERT_EQ(index.find(hash, [&](uint32_t got) { return got == s; }), slot)
            << "step " << step;
      }
      std::vector<uint32_t> seen;
      index.for_each([&](uint32_t slot) { seen.push_back(slot); });
      ASSERT_EQ(seen.size(), live.size());
    }
  }
}

TEST(SlotIndex, FindComparesOnlyEntriesWithTheSameHashBits) {
  SlotIndex index(8);
  index.insert(5, 1);
  index.insert(5, 2);
  index.insert(6, 3);
  int asked = 0;
  EXPECT_EQ(index.find(6, [&](uint32_t slot) { return ++asked, slot == 3; }), 3u);
  EXPECT_EQ(asked, 1);  // slots 1 and 2 sit on its way but carry hash 5
  EXPECT_EQ(index.find(7, [](uint32_t) { return true; }), 0u);
  EXPECT_GE(index.buckets(), 16u);
  EXPECT_EQ(index.memory_bytes(), index.buckets() * 8);
}

}  // namespace
}  // namespace tripline
