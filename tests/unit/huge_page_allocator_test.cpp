// engine/core/huge_page_allocator.h: large blocks are mapped on their own
// (page-aligned, usable to the last element, unmapped when freed), small
// ones come from operator new with the type's alignment (ASan checks that
// they are given back).
#include "huge_page_allocator.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <vector>

namespace tripline {
namespace {

// Whether the page holding `p` is mapped (mincore fails with ENOMEM on an
// unmapped range).
bool mapped(const void* p) {
  const auto page = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{4095};
  unsigned char in_core = 0;
  return mincore(reinterpret_cast<void*>(page), 4096, &in_core) == 0;
}

struct alignas(64) Line {
  uint8_t bytes[64];
};

TEST(HugePageAllocator, LargeBlocksAreMappedAndGivenBack) {
  const void* first = nullptr;
  const void* last = nullptr;
  {
    std::vector<uint64_t, HugePageAllocator<uint64_t>> big((size_t{3} << 20) / sizeof(uint64_t));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % 4096, 0u);
    for (size_t i = 0; i < big.size(); i += 512) big[i] = i;
    big.back() = 7;
    EXPECT_EQ(big[512], 512u);
    first = big.data();
    last = &big.back();
    EXPECT_TRUE(mapped(first));
    EXPECT_TRUE(mapped(last));
  }
  // A mapping of its own, unmapped with the vector (a heap block would stay mapped).
  EXPECT_FALSE(mapped(first));
  EXPECT_FALSE(mapped(last));
}

TEST(HugePageAllocator, SmallBlocksKeepTheTypesAlignment) {
  std::vector<Line, HugePageAllocator<Line>> small(10);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 64, 0u);
  small[9].bytes[63] = 1;
  std::vector<Line, HugePageAllocator<Line>> copy = small;
  EXPECT_EQ(copy[9].bytes[63], 1);
}

}  // namespace
}  // namespace tripline
