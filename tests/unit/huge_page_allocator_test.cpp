// engine/core/huge_page_allocator.h: large blocks are mapped on their own
// (page-aligned, usable to the last element), small ones come from operator
// new with the type's alignment; both give back what they took (ASan checks
// the small ones, munmap failing would leave the mapping in /proc/self/maps).
#include "huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace tripline {
namespace {

size_t mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

struct alignas(64) Line {
  uint8_t bytes[64];
};

TEST(HugePageAllocator, LargeBlocksAreMappedAndGivenBack) {
  const size_t before = mappings();
  {
    std::vector<uint64_t, HugePageAllocator<uint64_t>> big((size_t{3} << 20) / sizeof(uint64_t));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % 4096, 0u);
    for (size_t i = 0; i < big.size(); i += 512) big[i] = i;
    big.back() = 7;
    EXPECT_EQ(big[512], 512u);
    EXPECT_GE(mappings(), before);
  }
  EXPECT_LE(mappings(), before + 1);  // the mapping went with the vector
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
