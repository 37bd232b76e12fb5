// An allocator for large tables read at random (the flow table's slots,
// index and links): blocks of 2 MiB or more are mapped on their own and
// marked MADV_HUGEPAGE, so with transparent huge pages in "madvise" mode
// (Debian's kernels, this VM) a 12 MiB table takes a handful of TLB entries
// instead of thousands of 4 KiB pages, each lookup one page walk fewer.
// Smaller blocks, and a kernel that refuses the advice, get ordinary memory.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace tripline {

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage)
      return static_cast<T*>(::operator new (bytes, std::align_val_t{alignof(T)}));
    const size_t mapped = round_up(bytes);
    void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, mapped, MADV_HUGEPAGE);  // advice: without it, ordinary pages
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) {
      ::operator delete (p, std::align_val_t{alignof(T)});
      return;
    }
    munmap(p, round_up(bytes));
  }

  template <typename U>
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator<U>&) {
    return true;
  }

 private:
  static size_t round_up(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
};

}  // namespace tripline
