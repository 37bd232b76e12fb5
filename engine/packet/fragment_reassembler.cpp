#include "fragment_reassembler.h"

#include <algorithm>
#include <cstring>

namespace tripline {
namespace {

constexpr size_t kBlock = 8;  // fragment offsets count in 8-byte units

bool test_bit(const std::vector<uint64_t>& bits, size_t i) {
  return (bits[i / 64] >> (i % 64)) & 1;
}
void set_bit(std::vector<uint64_t>& bits, size_t i) { bits[i / 64] |= uint64_t{1} << (i % 64); }

}  // namespace

FragmentReassembler::FragmentReassembler(const FragmentLimits& limits)
    : limits_(limits), slots_(limits.max_partials) {
  closed_.reserve(limits_.max_closed);
}

void FragmentReassembler::expire(Timestamp now) {
  if (live_ == 0) return;
  for (Partial& p : slots_) {
    if (p.used && now - p.started >= limits_.timeout) {
      ++stats_.timed_out;
      abandon(p, now);
    }
  }
}

void FragmentReassembler::abandon(Partial& p, Timestamp now) {
  p.used = false;
  --live_;
  close(p.key, now);
}

void FragmentReassembler::close(const FragmentKey& key, Timestamp now) {
  if (limits_.max_closed == 0) return;
  ClosedKey c{key, now + limits_.closed_for};
  if (closed_.size() < limits_.max_closed) {
    closed_.push_back(c);  // within the reserved capacity
    return;
  }
  closed_[closed_next_] = c;  // forget the oldest
  closed_next_ = closed_next_ + 1 == closed_.size() ? 0 : closed_next_ + 1;
}

bool FragmentReassembler::is_closed(const FragmentKey& key, Timestamp now) const {
  for (const ClosedKey& c : closed_)
    if (c.until > now && c.key == key) return true;
  return false;
}

FragmentReassembler::Result FragmentReassembler::add(const FragmentKey& key, uint32_t offset,
                                                     bool more, std::span<const uint8_t> data,
                                                     Timestamp now) {
  done_ = {};
  expire(now);
  Partial* p = nullptr;
  Partial* free_slot = nullptr;
  for (Partial& s : slots_) {
    if (s.used && s.key == key) {
      p = &s;
      break;
    }
    if (!s.used && !free_slot) free_slot = &s;
  }
  if (!p) {
    if (is_closed(key, now)) return Result::Closed;
    if (!free_slot) return Result::Full;
    p = free_slot;
    if (p->buf.size() < limits_.max_bytes) {  // the slot's first use
      p->buf.resize(limits_.max_bytes);
      p->have.resize((limits_.max_bytes + kBlock * 64 - 1) / (kBlock * 64));
    }
    std::fill(p->have.begin(), p->have.end(), 0);
    p->key = key;
    p->used = true;
    p->started = now;
    p->total = 0;
    p->total_known = false;
    p->blocks_filled = 0;
    p->end = 0;
    ++live_;
  }
  Partial& q = *p;
  const size_t len = data.size();
  const size_t end = size_t{offset} + len;
  // Every piece but the last is a whole number of blocks; nothing may lie past
  // the end the last piece declares, and the last piece declares it once.
  bool bad = len == 0 || offset % kBlock != 0 || end > limits_.max_bytes ||
             (more && len % kBlock != 0) || (more && q.total_known && end > q.total) ||
             (!more && q.total_known && end != q.total) || (!more && q.end > end);
  if (!bad) {
    const size_t first = offset / kBlock, last = (end + kBlock - 1) / kBlock;
    size_t held = 0;
    for (size_t b = first; b < last; ++b) held += test_bit(q.have, b);
    if (held == last - first && std::memcmp(q.buf.data() + offset, data.data(), len) == 0)
      return Result::Duplicate;
    if (held != 0) {
      bad = true;  // overlaps other bytes: receivers disagree on such datagrams
    } else {
      std::memcpy(q.buf.data() + offset, data.data(), len);
      for (size_t b = first; b < last; ++b) set_bit(q.have, b);
      q.blocks_filled += static_cast<uint32_t>(last - first);
    }
  }
  if (bad) {
    abandon(q, now);
    return Result::Invalid;
  }
  q.end = static_cast<uint32_t>(std::max<size_t>(q.end, end));
  if (!more) {
    q.total = static_cast<uint32_t>(end);
    q.total_known = true;
  }
  if (!q.total_known || q.blocks_filled != (q.total + kBlock - 1) / kBlock)
    return Result::Incomplete;
  q.used = false;  // the buffer stays valid until the next add()
  --live_;
  done_ = std::span<const uint8_t>(q.buf.data(), q.total);
  return Result::Complete;
}

}  // namespace tripline
