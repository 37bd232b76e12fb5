// Bounded reassembly of fragmented IP datagrams (the DNS observer's big EDNS
// answers from resolvers). Keyed by (src, dst, proto, IP id / IPv6 fragment
// id); a fixed number of partial datagrams, each at most 65535 bytes, each
// abandoned after a timeout. A key that was abandoned or whose datagram was
// judged bad stays "closed" (a tombstone) for as long as a receiving kernel may
// still hold its fragments, so a late fragment cannot complete it unjudged.
// Buffers are allocated once per slot on first use; no allocation afterwards.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ip_address.h"
#include "timestamp.h"

namespace tripline {

struct FragmentKey {
  IpAddr src, dst;
  uint32_t id = 0;
  uint8_t proto = 0;
  friend bool operator==(const FragmentKey&, const FragmentKey&) = default;
};

struct FragmentLimits {
  size_t max_partials = 64;        // partial datagrams held at once
  size_t max_bytes = 65535;        // reassembled size (upper-layer datagram)
  Timestamp timeout = seconds(5);  // from a partial's first fragment
  // How long an abandoned or rejected key stays closed; at least the
  // receivers' reassembly timeout (Linux: 30 s IPv4, 60 s IPv6).
  Timestamp closed_for = seconds(60);
  size_t max_closed = 256;  // closed keys remembered (oldest forgotten first)
};

class FragmentReassembler {
 public:
  enum class Result : uint8_t {
    Incomplete,  // held; the datagram still misses pieces
    Duplicate,   // exactly repeats bytes already held (changes nothing)
    Complete,    // this fragment completed it: datagram() holds it
    Closed,      // the key is closed (abandoned or rejected recently)
    Full,        // no room for another partial datagram: not held
    Invalid,     // oversize, overlapping with other bytes, or inconsistent: key closed
  };
  struct Stats {
    uint64_t timed_out = 0;  // partials abandoned on timeout
  };

  explicit FragmentReassembler(const FragmentLimits& limits = {});

  // Adds one fragment: `data` belongs at byte `offset` of the datagram; `more`
  // is the More Fragments flag. Expired partials are abandoned first.
  Result add(const FragmentKey& key, uint32_t offset, bool more, std::span<const uint8_t> data,
             Timestamp now);
  // After Complete: the reassembled datagram, valid until the next add().
  std::span<const uint8_t> datagram() const { return done_; }
  // Closes a key (e.g. its completed datagram was rejected), so no later
  // fragment of it is accepted until closed_for has passed.
  void close(const FragmentKey& key, Timestamp now);

  size_t partials() const { return live_; }
  const Stats& stats() const { return stats_; }

 private:
  struct Partial {
    FragmentKey key;
    bool used = false;
    Timestamp started = 0;
    uint32_t total = 0;  // datagram length, known once the last fragment arrived
    bool total_known = false;
    uint32_t blocks_filled = 0;  // 8-byte blocks held
    uint32_t end = 0;            // highest byte held + 1
    std::vector<uint8_t> buf;    // max_bytes, allocated on the slot's first use
    std::vector<uint64_t> have;  // one bit per 8-byte block
  };
  struct ClosedKey {
    FragmentKey key;
    Timestamp until = 0;
  };

  void expire(Timestamp now);
  void abandon(Partial& p, Timestamp now);  // frees the slot and closes its key
  bool is_closed(const FragmentKey& key, Timestamp now) const;

  FragmentLimits limits_;
  std::vector<Partial> slots_;
  std::vector<ClosedKey> closed_;  // ring
  size_t closed_next_ = 0;
  size_t live_ = 0;
  std::span<const uint8_t> done_;
  Stats stats_;
};

}  // namespace tripline
