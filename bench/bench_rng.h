// A small, fast, seedable random generator (xoshiro256** seeded by splitmix64)
// with integer-only helpers, so generated traffic and benchmark inputs are the
// same for a seed on every machine and standard library.
#pragma once

#include <cstdint>

namespace tripline::gen {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }

  uint64_t next() {
    uint64_t result = rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0. Lemire's multiply-shift (bias below 2^-32 for
  // the small n used here, and the same result everywhere).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [lo, hi], inclusive.
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // True with probability pct/100.
  bool percent(uint32_t pct) { return below(100) < pct; }
  // Roughly log-uniform in [lo, hi] (lo >= 1): many small values, a few big.
  uint64_t log_range(uint64_t lo, uint64_t hi) {
    uint64_t span_bits = 0;
    while ((lo << span_bits) < hi && span_bits < 63) ++span_bits;
    uint64_t top = lo << below(span_bits + 1);
    if (top > hi) top = hi;
    return range(lo, top);
  }

  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace tripline::gen
