#include "capture_ring.h"

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tripline {

static_assert(sizeof(uint64_t) == CaptureRing::kFrameHeader);

namespace {

uint64_t checked_capacity(uint64_t capacity) {
  if (!std::has_single_bit(capacity) || capacity < CaptureRing::kMinCapacity ||
      capacity > UINT32_MAX) {
    throw std::invalid_argument("capture ring: capacity " + std::to_string(capacity) +
                                " is not a power of two in [64, 2^31]");
  }
  return capacity;
}

}  // namespace

// The capacity is checked before anything is allocated.
CaptureRing::CaptureRing(uint64_t capacity)
    : cap_(checked_capacity(capacity)), mask_(cap_ - 1), storage_(cap_ / sizeof(uint64_t)) {}

bool CaptureRing::push(std::span<const uint8_t> head, std::span<const uint8_t> body) {
  const uint64_t len = uint64_t{head.size()} + body.size();
  if (len > max_payload()) return false;
  const uint64_t size = frame_bytes(len);
  uint64_t h = head_.load(std::memory_order_relaxed);
  uint64_t idx = h & mask_;
  const uint64_t room = cap_ - idx;
  const uint64_t pad = room < size ? room : 0;  // the rest of the buffer, skipped
  if (h + pad + size - cached_tail_ > cap_) {
    cached_tail_ = tail_.load(std::memory_order_acquire);
    if (h + pad + size - cached_tail_ > cap_) return false;
  }
  uint8_t* b = base();
  if (pad) {
    // Frames are multiples of 8 and so is the capacity: a pad header always fits.
    const FrameHeader p{static_cast<uint32_t>(pad), kPadLen};
    std::memcpy(b + idx, &p, sizeof p);
    h += pad;
    idx = 0;
  }
  const FrameHeader fh{static_cast<uint32_t>(size), static_cast<uint32_t>(len)};
  std::memcpy(b + idx, &fh, sizeof fh);
  uint8_t* dst = b + idx + kFrameHeader;
  if (!head.empty()) std::memcpy(dst, head.data(), head.size());
  if (!body.empty()) std::memcpy(dst + head.size(), body.data(), body.size());
  head_.store(h + size, std::memory_order_release);
  return true;
}

uint64_t CaptureRing::backlog_estimate() const {
  return head_.load(std::memory_order_relaxed) - cached_tail_;
}

uint64_t CaptureRing::refresh_backlog() {
  cached_tail_ = tail_.load(std::memory_order_acquire);
  return head_.load(std::memory_order_relaxed) - cached_tail_;
}

bool CaptureRing::peek(std::span<const uint8_t>& payload) { return next(payload, true); }

bool CaptureRing::next(std::span<const uint8_t>& payload, bool refresh) {
  uint64_t t = tail_.load(std::memory_order_relaxed);
  for (;;) {
    if (t == cached_head_) {
      if (!refresh) return false;
      cached_head_ = head_.load(std::memory_order_acquire);
      if (t == cached_head_) return false;
    }
    const uint64_t idx = t & mask_;
    FrameHeader fh;
    std::memcpy(&fh, base() + idx, sizeof fh);
    if (fh.size < kFrameHeader || fh.size % 8 != 0 || fh.size > cap_ - idx ||
        (fh.len != kPadLen && frame_bytes(fh.len) != fh.size)) {
      // Only this class writes frames: a bad one is memory corruption.
      std::fprintf(stderr, "capture ring: corrupt frame (size %u, length %u) at offset %llu\n",
                   fh.size, fh.len, static_cast<unsigned long long>(idx));
      std::abort();
    }
    if (fh.len == kPadLen) {
      t += fh.size;
      tail_.store(t, std::memory_order_release);
      continue;
    }
    payload = {base() + idx + kFrameHeader, fh.len};
    peeked_size_ = fh.size;
    return true;
  }
}

void CaptureRing::pop() {
  if (peeked_size_ == 0) {
    std::fprintf(stderr, "capture ring: pop() without a record from peek()\n");
    std::abort();
  }
  tail_.store(tail_.load(std::memory_order_relaxed) + peeked_size_, std::memory_order_release);
  peeked_size_ = 0;
}

}  // namespace tripline
