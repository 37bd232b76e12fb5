// The store trigger scripts share across workers (tripline.incr/get/set/del,
// lua/API.md): string keys to numbers, short strings or booleans, each with an
// optional expiry. One instance for all workers, owned by the composition root
// (so it outlives the Lua states and a script reload). Bounded: a full shard
// drops its soonest-expiring entry. Thread-safe: sharded locks. Memory grows
// with use up to the bound; from then on an operation allocates only when a
// key or string longer than its slot held before arrives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "timestamp.h"

namespace tripline {

// One value. kind None: no entry (or an expired one).
struct SharedValue {
  enum class Kind : uint8_t { None, Int, Float, Bool, String };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;  // Kind::String; reused (its capacity stays) from call to call
};

class SharedStore {
 public:
  static constexpr size_t kMaxKey = 256;      // bytes of a key
  static constexpr size_t kMaxString = 1024;  // bytes of a string value
  static constexpr Timestamp kNever = INT64_MAX;
  static constexpr size_t kDefaultShards = 16;

  // `entries`: the bound (>= 1), split evenly over `shards` locks (rounded
  // down to a power of two, at most `entries`); each shard keeps its part,
  // so a full shard evicts although others may have room.
  explicit SharedStore(size_t entries, size_t shards = kDefaultShards);
  ~SharedStore();
  SharedStore(const SharedStore&) = delete;
  SharedStore& operator=(const SharedStore&) = delete;

  // What a write did besides its own work: entries it dropped before they
  // expired to make room (the caller counts them: lua_shared_evicted).
  struct Effect {
    uint64_t evicted = 0;
  };

  // Adds `n` (Int or Float) to the number under `key`; an absent or expired
  // key starts from 0 and expires `ttl` ns after this increment (kNever: no
  // expiry); an existing one keeps its expiry. Int + Int stays Int (wraps as
  // Lua integers do). Returns false, changing nothing, when the key holds a
  // string or a boolean. *out gets the new value.
  bool incr(std::string_view key, const SharedValue& n, Timestamp ttl, Timestamp now,
            SharedValue* out, Effect* effect);
  // Copies the live value under `key` into *out (kind None when absent).
  void get(std::string_view key, Timestamp now, SharedValue* out);
  // Stores `value` (not None) under `key`, expiring `ttl` ns from now (kNever: no expiry).
  void set(std::string_view key, const SharedValue& value, Timestamp ttl, Timestamp now,
           Effect* effect);
  // Removes `key`; true when it held a live value.
  bool del(std::string_view key, Timestamp now);

  size_t capacity() const;  // entries it can hold (shards x per-shard bound)
  size_t size() const;      // entries held, expired ones not yet removed included

 private:
  struct Shard;
  Shard& shard_of(std::string_view key, uint64_t* hash);

  std::unique_ptr<Shard[]> shards_;
  size_t n_shards_;
};

}  // namespace tripline
