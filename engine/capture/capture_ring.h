// A lock-free single-producer/single-consumer ring of variable-length byte
// records, allocated once: the capture writer's hand-off from one worker
// (producer) to the writer thread (consumer). A record that does not fit is
// refused at once (the caller counts the drop); the producer never waits.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

namespace tripline {

// Layout: each record is an 8-byte frame header (frame size, payload length)
// and its payload, padded to a multiple of 8. A record never wraps: when it
// does not fit before the end of the buffer, the producer fills the rest with
// a pad frame and starts at offset 0. head and tail count bytes since the
// start and only grow; the offset is (position & mask). The producer
// publishes with a release store of head, the consumer frees with a release
// store of tail; each reads the other's with acquire.
class CaptureRing {
 public:
  static constexpr uint32_t kFrameHeader = 8;
  static constexpr uint64_t kMinCapacity = 64;

  // Ring bytes one record of `payload` bytes takes.
  static constexpr uint64_t frame_bytes(uint64_t payload) {
    return (kFrameHeader + payload + 7) & ~uint64_t{7};
  }

  // `capacity`: a power of two, at least kMinCapacity and below 2^32 (throws
  // std::invalid_argument otherwise).
  explicit CaptureRing(uint64_t capacity);
  CaptureRing(const CaptureRing&) = delete;
  CaptureRing& operator=(const CaptureRing&) = delete;

  uint64_t capacity() const { return cap_; }
  // The largest payload a record may have: frame_bytes(max_payload()) is half
  // the ring, so such a record always fits once the ring is empty. Larger
  // records are refused whatever the ring holds.
  uint64_t max_payload() const { return cap_ / 2 - kFrameHeader; }

  // ---- producer (one thread) ----
  // Appends one record whose payload is `head` then `body`; false when it
  // does not fit now (or ever: over max_payload()). Never blocks or allocates.
  bool push(std::span<const uint8_t> head, std::span<const uint8_t> body = {});
  // Bytes published and not yet freed, as of the producer's last look at the
  // consumer (may overstate); refresh_backlog() looks again.
  uint64_t backlog_estimate() const;
  uint64_t refresh_backlog();

  // ---- consumer (one thread) ----
  // The oldest published record's payload (8-byte aligned, valid until pop()),
  // or false when the ring is empty.
  bool peek(std::span<const uint8_t>& payload);
  // Frees the record peek() returned.
  void pop();
  // Calls f(payload) for every record published when called (not those the
  // producer adds meanwhile: a busy producer cannot keep the consumer here),
  // freeing each after f returns; returns how many.
  template <typename F>
  size_t consume(F&& f) {
    cached_head_ = head_.load(std::memory_order_acquire);
    size_t n = 0;
    std::span<const uint8_t> p;
    while (next(p, false)) {
      f(p);
      pop();
      ++n;
    }
    return n;
  }

 private:
  struct FrameHeader {
    uint32_t size;  // whole frame, header included, multiple of 8
    uint32_t len;   // payload bytes; kPadLen for a pad frame
  };
  static constexpr uint32_t kPadLen = UINT32_MAX;

  uint8_t* base() { return reinterpret_cast<uint8_t*>(storage_.data()); }
  // peek(); with `refresh` false it looks only as far as cached_head_.
  bool next(std::span<const uint8_t>& payload, bool refresh);

  const uint64_t cap_;
  const uint64_t mask_;
  std::vector<uint64_t> storage_;  // 8-byte aligned bytes

  alignas(64) std::atomic<uint64_t> head_{0};  // written by the producer
  uint64_t cached_tail_ = 0;                   // producer's last view of tail_
  alignas(64) std::atomic<uint64_t> tail_{0};  // written by the consumer
  uint64_t cached_head_ = 0;                   // consumer's last view of head_
  uint64_t peeked_size_ = 0;                   // frame bytes pop() frees (0: none)
};

}  // namespace tripline
