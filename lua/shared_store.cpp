#include "shared_store.h"

#include <absl/container/flat_hash_map.h>
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <deque>
#include <mutex>
#include <vector>

namespace tripline {
namespace {

// Expired entries removed from the top of the expiry heap per write, so that
// dead entries do not pile up until the shard is full.
constexpr int kPurgePerWrite = 4;

struct KeyRef {
  std::string_view s;
  uint64_t h;
};
struct KeyHash {
  size_t operator()(const KeyRef& k) const { return static_cast<size_t>(k.h); }
};
struct KeyEq {
  bool operator()(const KeyRef& a, const KeyRef& b) const { return a.s == b.s; }
};

struct Slot {
  std::string key;  // the index's KeyRef points at it: a slot never moves
  uint64_t hash = 0;
  Timestamp expiry = 0;
  uint32_t heap_pos = 0;
  SharedValue value;
};

Timestamp expiry_of(Timestamp now, Timestamp ttl) {
  if (ttl == SharedStore::kNever || now > SharedStore::kNever - ttl) return SharedStore::kNever;
  return now + ttl;
}

void copy_value(const SharedValue& from, SharedValue* to) {
  to->kind = from.kind;
  to->b = from.b;
  to->i = from.i;
  to->d = from.d;
  if (from.kind == SharedValue::Kind::String) to->s.assign(from.s);  // keeps to's capacity
}

double as_double(const SharedValue& v) {
  return v.kind == SharedValue::Kind::Int ? static_cast<double>(v.i) : v.d;
}

}  // namespace

// One lock and its part of the entries: the slots, the key index and a
// min-heap of slots by expiry (the next to go when full). Memory grows with
// use up to the bound and is reused from then on (a freed slot keeps its
// strings' capacity).
struct alignas(64) SharedStore::Shard {
  mutable std::mutex mu;
  size_t cap = 0;
  std::deque<Slot> slots;  // a deque: slots never move
  std::vector<uint32_t> free;
  std::vector<uint32_t> heap;
  absl::flat_hash_map<KeyRef, uint32_t, KeyHash, KeyEq> index;

  void init(size_t capacity) { cap = capacity; }

  bool before(uint32_t a, uint32_t b) const { return slots[a].expiry < slots[b].expiry; }
  void place(size_t pos, uint32_t s) {
    heap[pos] = s;
    slots[s].heap_pos = static_cast<uint32_t>(pos);
  }
  void sift_up(size_t pos) {
    uint32_t s = heap[pos];
    while (pos > 0) {
      size_t parent = (pos - 1) / 2;
      if (!before(s, heap[parent])) break;
      place(pos, heap[parent]);
      pos = parent;
    }
    place(pos, s);
  }
  void sift_down(size_t pos) {
    uint32_t s = heap[pos];
    const size_t n = heap.size();
    for (;;) {
      size_t child = 2 * pos + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap[child + 1], heap[child])) ++child;
      if (!before(heap[child], s)) break;
      place(pos, heap[child]);
      pos = child;
    }
    place(pos, s);
  }
  void reposition(uint32_t s) {
    size_t pos = slots[s].heap_pos;
    if (pos > 0 && before(s, heap[(pos - 1) / 2]))
      sift_up(pos);
    else
      sift_down(pos);
  }

  void remove(uint32_t s) {
    Slot& slot = slots[s];
    index.erase(KeyRef{slot.key, slot.hash});
    size_t pos = slot.heap_pos;
    uint32_t last = heap.back();
    heap.pop_back();
    if (last != s) {
      place(pos, last);
      reposition(last);
    }
    slot.value.kind = SharedValue::Kind::None;
    free.push_back(s);
  }

  // The slot of a live entry, or -1 (an expired one is removed on the way).
  int64_t find(std::string_view key, uint64_t h, Timestamp now) {
    auto it = index.find(KeyRef{key, h});
    if (it == index.end()) return -1;
    uint32_t s = it->second;
    if (slots[s].expiry <= now) {
      remove(s);
      return -1;
    }
    return s;
  }

  // A new entry (the key is not live): purges expired entries, drops the
  // soonest-expiring one when full.
  uint32_t insert(std::string_view key, uint64_t h, Timestamp expiry, Timestamp now,
                  Effect* effect) {
    for (int i = 0; i < kPurgePerWrite && !heap.empty() && slots[heap[0]].expiry <= now; ++i)
      remove(heap[0]);
    if (index.size() >= cap) {
      if (slots[heap[0]].expiry > now) ++effect->evicted;
      remove(heap[0]);
    }
    uint32_t s;
    if (!free.empty()) {
      s = free.back();
      free.pop_back();
    } else {
      s = static_cast<uint32_t>(slots.size());
      slots.emplace_back();
    }
    Slot& slot = slots[s];
    slot.key.assign(key.data(), key.size());
    slot.hash = h;
    slot.expiry = expiry;
    index.emplace(KeyRef{slot.key, h}, s);
    heap.push_back(s);
    sift_up(heap.size() - 1);
    return s;
  }
};

SharedStore::SharedStore(size_t entries, size_t shards) {
  entries = std::max<size_t>(entries, 1);
  shards = std::bit_floor(std::clamp<size_t>(shards, 1, entries));
  n_shards_ = shards;
  shards_ = std::make_unique<Shard[]>(n_shards_);
  for (size_t i = 0; i < n_shards_; ++i)
    shards_[i].init(entries / n_shards_ + (i < entries % n_shards_ ? 1 : 0));
}

SharedStore::~SharedStore() = default;

SharedStore::Shard& SharedStore::shard_of(std::string_view key, uint64_t* hash) {
  *hash = XXH3_64bits(key.data(), key.size());
  // The top bits pick the shard; the map uses the low ones.
  return shards_[n_shards_ == 1 ? 0 : (*hash >> (64 - std::countr_zero(n_shards_)))];
}

bool SharedStore::incr(std::string_view key, const SharedValue& n, Timestamp ttl, Timestamp now,
                       SharedValue* out, Effect* effect) {
  uint64_t h = 0;
  Shard& sh = shard_of(key, &h);
  std::lock_guard lock(sh.mu);
  int64_t found = sh.find(key, h, now);
  if (found < 0) {
    uint32_t s = sh.insert(key, h, expiry_of(now, ttl), now, effect);
    SharedValue& v = sh.slots[s].value;
    v.kind = n.kind == SharedValue::Kind::Int ? SharedValue::Kind::Int : SharedValue::Kind::Float;
    v.i = n.i;
    v.d = n.kind == SharedValue::Kind::Int ? 0 : n.d;
    copy_value(v, out);
    return true;
  }
  SharedValue& v = sh.slots[static_cast<uint32_t>(found)].value;
  if (v.kind == SharedValue::Kind::Int && n.kind == SharedValue::Kind::Int) {
    v.i = static_cast<int64_t>(static_cast<uint64_t>(v.i) + static_cast<uint64_t>(n.i));
  } else if (v.kind == SharedValue::Kind::Int || v.kind == SharedValue::Kind::Float) {
    v.d = as_double(v) + as_double(n);
    v.kind = SharedValue::Kind::Float;
  } else {
    return false;
  }
  copy_value(v, out);
  return true;
}

void SharedStore::get(std::string_view key, Timestamp now, SharedValue* out) {
  uint64_t h = 0;
  Shard& sh = shard_of(key, &h);
  std::lock_guard lock(sh.mu);
  int64_t found = sh.find(key, h, now);
  if (found < 0) {
    out->kind = SharedValue::Kind::None;
    return;
  }
  copy_value(sh.slots[static_cast<uint32_t>(found)].value, out);
}

void SharedStore::set(std::string_view key, const SharedValue& value, Timestamp ttl, Timestamp now,
                      Effect* effect) {
  uint64_t h = 0;
  Shard& sh = shard_of(key, &h);
  std::lock_guard lock(sh.mu);
  int64_t found = sh.find(key, h, now);
  uint32_t s;
  if (found < 0) {
    s = sh.insert(key, h, expiry_of(now, ttl), now, effect);
  } else {
    s = static_cast<uint32_t>(found);
    sh.slots[s].expiry = expiry_of(now, ttl);
    sh.reposition(s);
  }
  copy_value(value, &sh.slots[s].value);
}

bool SharedStore::del(std::string_view key, Timestamp now) {
  uint64_t h = 0;
  Shard& sh = shard_of(key, &h);
  std::lock_guard lock(sh.mu);
  int64_t found = sh.find(key, h, now);
  if (found < 0) return false;
  sh.remove(static_cast<uint32_t>(found));
  return true;
}

size_t SharedStore::capacity() const {
  size_t total = 0;
  for (size_t i = 0; i < n_shards_; ++i) total += shards_[i].cap;
  return total;
}

size_t SharedStore::size() const {
  size_t total = 0;
  for (size_t i = 0; i < n_shards_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    total += shards_[i].index.size();
  }
  return total;
}

}  // namespace tripline
