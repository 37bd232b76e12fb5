#include "fragment_reassembler.h"

#include <gtest/gtest.h>

#include <vector>

namespace tripline {
namespace {

using Bytes = std::vector<uint8_t>;
using R = FragmentReassembler::Result;

FragmentKey key(uint32_t id) {
  return FragmentKey{*IpAddr::parse("10.0.0.53"), *IpAddr::parse("10.0.0.10"), id, 17};
}

Bytes bytes(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i);
  return b;
}

std::span<const uint8_t> piece(const Bytes& b, size_t off, size_t n) {
  return std::span<const uint8_t>(b).subspan(off, n);
}

constexpr Timestamp kT0 = 1767225600 * kNsPerSec;

TEST(FragmentReassembler, AnyOrderCompletesOnTheLastPieceToArrive) {
  Bytes d = bytes(100, 1);
  for (int order = 0; order < 3; ++order) {
    SCOPED_TRACE(order);
    FragmentReassembler r;
    // pieces: [0,48) [48,96) [96,100)
    const size_t offs[3] = {0, 48, 96}, lens[3] = {48, 48, 4};
    int seq[3][3] = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}};
    for (int i = 0; i < 3; ++i) {
      int f = seq[order][i];
      R res =
          r.add(key(1), static_cast<uint32_t>(offs[f]), f != 2, piece(d, offs[f], lens[f]), kT0);
      EXPECT_EQ(res, i == 2 ? R::Complete : R::Incomplete) << "piece " << f;
    }
    EXPECT_EQ(Bytes(r.datagram().begin(), r.datagram().end()), d);
    EXPECT_EQ(r.partials(), 0u);
  }
}

TEST(FragmentReassembler, DuplicateIsHarmlessOverlapClosesTheKey) {
  Bytes d = bytes(64, 7);
  FragmentReassembler r;
  EXPECT_EQ(r.add(key(2), 0, true, piece(d, 0, 32), kT0), R::Incomplete);
  EXPECT_EQ(r.add(key(2), 0, true, piece(d, 0, 32), kT0), R::Duplicate);
  Bytes other = bytes(32, 99);
  EXPECT_EQ(r.add(key(2), 0, true, other, kT0), R::Invalid);  // same place, other bytes
  EXPECT_EQ(r.partials(), 0u);
  // The key stays closed: the rest of it cannot complete anything.
  EXPECT_EQ(r.add(key(2), 32, false, piece(d, 32, 32), kT0 + seconds(1)), R::Closed);
  EXPECT_EQ(r.add(key(2), 32, false, piece(d, 32, 32), kT0 + seconds(61)), R::Incomplete);
}

TEST(FragmentReassembler, InconsistentPiecesAreInvalid) {
  Bytes d = bytes(64, 3);
  FragmentReassembler r;
  EXPECT_EQ(r.add(key(3), 0, true, piece(d, 0, 12), kT0), R::Invalid);  // not a block multiple
  EXPECT_EQ(r.add(key(4), 32, false, piece(d, 32, 16), kT0), R::Incomplete);  // ends at 48
  EXPECT_EQ(r.add(key(4), 48, true, piece(d, 48, 16), kT0), R::Invalid);      // past the end
  EXPECT_EQ(r.add(key(5), 40, false, piece(d, 40, 8), kT0), R::Incomplete);
  EXPECT_EQ(r.add(key(5), 48, false, piece(d, 48, 8), kT0), R::Invalid);  // a second end
  FragmentLimits small;
  small.max_bytes = 1000;
  FragmentReassembler s(small);
  Bytes big = bytes(64, 0);
  EXPECT_EQ(s.add(key(6), 960, true, big, kT0), R::Invalid);  // oversize
}

TEST(FragmentReassembler, BoundedNumberOfPartials) {
  FragmentLimits lim;
  lim.max_partials = 4;
  FragmentReassembler r(lim);
  Bytes d = bytes(16, 0);
  for (uint32_t id = 0; id < 4; ++id)
    EXPECT_EQ(r.add(key(id), 0, true, piece(d, 0, 8), kT0), R::Incomplete);
  EXPECT_EQ(r.add(key(9), 0, true, piece(d, 0, 8), kT0), R::Full);
  EXPECT_EQ(r.partials(), 4u);
  // Completing one frees its slot.
  EXPECT_EQ(r.add(key(0), 8, false, piece(d, 8, 8), kT0), R::Complete);
  EXPECT_EQ(r.add(key(9), 0, true, piece(d, 0, 8), kT0), R::Incomplete);
}

TEST(FragmentReassembler, TimeoutAbandonsAndClosesTheKey) {
  FragmentReassembler r;
  Bytes d = bytes(16, 0);
  EXPECT_EQ(r.add(key(1), 0, true, piece(d, 0, 8), kT0), R::Incomplete);
  EXPECT_EQ(r.add(key(1), 8, false, piece(d, 8, 8), kT0 + seconds(6)), R::Closed);
  EXPECT_EQ(r.stats().timed_out, 1u);
  EXPECT_EQ(r.partials(), 0u);
}

}  // namespace
}  // namespace tripline
