// The flow table's hash index: maps a key's hash to the slot holding the key.
// Open addressing with linear probing over 8-byte entries (32 bits of the
// hash, the slot), so a lookup reads one cache line of the index in the
// common case, then the candidate slot's key (which the caller reads anyway
// to account the packet). A swiss table keeps control bytes and values in
// two arrays: two lines per lookup instead of one. Deletion shifts the
// following entries back (no tombstones), so the index never degrades or
// needs rebuilding under churn. Sized once: it holds at most the capacity it
// was built for, at a load of at most one half.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "huge_page_allocator.h"

namespace tripline {

class SlotIndex {
 public:
  // Room for `capacity` slots (at least 1).
  explicit SlotIndex(size_t capacity) {
    size_t n = 16;
    while (n < capacity * 2) n *= 2;
    entries_.resize(n);
    mask_ = n - 1;
  }

  // The slot of the entry with this hash for which same(slot) holds, or 0.
  template <typename Same>
  uint32_t find(uint64_t hash, Same&& same) const {
    const auto tag = static_cast<uint32_t>(hash);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.slot == 0) return 0;
      if (e.tag == tag && same(e.slot)) return e.slot;
    }
  }

  // Adds `slot` (non-zero, not present) under `hash`. The caller never adds
  // more than the capacity the index was built for.
  void insert(uint64_t hash, uint32_t slot) {
    const auto tag = static_cast<uint32_t>(hash);
    size_t i = tag & mask_;
    while (entries_[i].slot != 0) i = (i + 1) & mask_;
    entries_[i] = Entry{tag, slot};
    ++size_;
  }

  // Removes `slot`, added under `hash`; false when it is not there.
  bool erase(uint64_t hash, uint32_t slot) {
    const auto tag = static_cast<uint32_t>(hash);
    size_t i = tag & mask_;
    for (;; i = (i + 1) & mask_) {
      if (entries_[i].slot == 0) return false;
      if (entries_[i].slot == slot) break;
    }
    // Backward shift: move each following entry of the run into the hole
    // when the hole lies between its home and where it sits now.
    for (size_t j = i;;) {
      j = (j + 1) & mask_;
      const Entry& e = entries_[j];
      if (e.slot == 0) break;
      const size_t home = e.tag & mask_;
      // Stays when its home is cyclically in (i, j].
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      entries_[i] = e;
      i = j;
    }
    entries_[i] = Entry{};
    --size_;
    return true;
  }

  // Brings the index line a lookup of `hash` reads first into the cache.
  void prefetch(uint64_t hash) const {
    __builtin_prefetch(&entries_[static_cast<uint32_t>(hash) & mask_]);
  }

  // The first slot stored under exactly this hash's bits among the entries
  // of its line (0: none there), without comparing keys: a guess to prefetch.
  uint32_t peek(uint64_t hash) const {
    const auto tag = static_cast<uint32_t>(hash);
    for (size_t i = tag & mask_, n = 0; n < 4; i = (i + 1) & mask_, ++n) {
      const Entry& e = entries_[i];
      if (e.slot == 0) return 0;
      if (e.tag == tag) return e.slot;
    }
    return 0;
  }

  size_t size() const { return size_; }
  size_t buckets() const { return entries_.size(); }
  size_t memory_bytes() const { return entries_.capacity() * sizeof(Entry); }
  template <typename F>
  void for_each(F&& f) const {
    for (const Entry& e : entries_)
      if (e.slot) f(e.slot);
  }

 private:
  struct Entry {
    uint32_t tag = 0;
    uint32_t slot = 0;  // 0: empty
  };
  std::vector<Entry, HugePageAllocator<Entry>> entries_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace tripline
