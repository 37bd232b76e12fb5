// The per-worker flow table (see flow_table.h). Flows live in a preallocated
// slot array; a hash index maps canonical keys to slots; one intrusive list per
// timeout class keeps flows oldest-first so expiry and eviction look only at
// list heads. A bounded map remembers first fragments so later fragments (which
// carry no ports) find their flow.
#include "flow_table.h"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>

namespace tripline {

static_assert(sizeof(Flow) <= 256, "flow slots are preallocated per worker: keep Flow small");
// Three cache lines: what a tracked flow costs (bench/RESULTS.md, <= 256 bytes
// with its list links and index share).
static_assert(sizeof(Flow) <= 192, "Flow grew past three cache lines");

namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoIcmp6 = 58;
constexpr uint8_t kSawSyn = 1, kSawSynAck = 2;  // Flow::handshake bits
constexpr Timestamp kFragmentLifetime = seconds(30);
// An offloaded flow whose packets reach the queue again after this long
// without one: the kernel no longer carries that connection (see track()).
constexpr Timestamp kOffloadGone = seconds(1);

// Timeout classes, the index of a flow's list.
enum : uint8_t {
  kTcpNew,
  kTcpEstablished,
  kTcpClosing,
  kTcpClosed,
  kUdp,
  kIcmp,
  kOther,
  kOffloaded,
  kCount
};

// Protocols whose header the decoder reads (ports, or ICMP type/code).
bool has_l4_fields(uint8_t proto) {
  return proto == kProtoTcp || proto == kProtoUdp || proto == kProtoIcmp || proto == kProtoIcmp6;
}
bool is_icmp(uint8_t proto) { return proto == kProtoIcmp || proto == kProtoIcmp6; }

// The ICMP type answering `type` (and the reverse), or -1: a reply finds the
// flow its request started, whose key holds the request's type.
int icmp_counterpart(uint8_t proto, uint16_t type) {
  // ICMP echo, timestamp, information, address mask; ICMPv6 echo, node information.
  static constexpr uint16_t kV4[][2] = {{8, 0}, {13, 14}, {15, 16}, {17, 18}};
  static constexpr uint16_t kV6[][2] = {{128, 129}, {139, 140}};
  using Pairs = std::span<const uint16_t[2]>;
  for (const auto& pair : proto == kProtoIcmp ? Pairs(kV4) : Pairs(kV6)) {
    if (pair[0] == type) return pair[1];
    if (pair[1] == type) return pair[0];
  }
  return -1;
}

struct OrientedKey {
  FlowKey key;
  bool sender_is_lo = true;  // (src, sport) is the key's lo side
};

// a <=> b as IpAddr orders them (bytes as unsigned, in order, then the
// family), from two big-endian word loads instead of a call to memcmp.
int compare_addr(const IpAddr& a, const IpAddr& b) {
  for (size_t off = 0; off < 16; off += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.bytes.data() + off, 8);
    std::memcpy(&y, b.bytes.data() + off, 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
  }
  return a.family == b.family ? 0 : (a.family < b.family ? -1 : 1);
}

OrientedKey make_key(const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport,
                     uint8_t proto) {
  OrientedKey k;
  k.key.proto = proto;
  const int order = compare_addr(src, dst);
  bool src_low = order < 0 || (order == 0 && sport <= dport);
  k.sender_is_lo = src_low;
  k.key.lo = src_low ? src : dst;
  k.key.hi = src_low ? dst : src;
  k.key.lo_port = src_low ? sport : dport;
  k.key.hi_port = src_low ? dport : sport;
  return k;
}

}  // namespace

const char* to_string(FlowState s) {
  switch (s) {
    case FlowState::New:
      return "new";
    case FlowState::Established:
      return "established";
    case FlowState::Closing:
      return "closing";
    case FlowState::Closed:
      return "closed";
  }
  return "unknown";
}

const char* to_string(FlowEndReason r) {
  switch (r) {
    case FlowEndReason::Fin:
      return "fin";
    case FlowEndReason::Rst:
      return "rst";
    case FlowEndReason::Timeout:
      return "timeout";
    case FlowEndReason::Evicted:
      return "evicted";
    case FlowEndReason::Shutdown:
      return "shutdown";
    case FlowEndReason::Rejected:
      return "rejected";
    case FlowEndReason::Dropped:
      return "dropped";
  }
  return "unknown";
}

FlowTable::FlowTable(const FlowConfig& cfg, FlowObserver* observer)
    : cfg_(cfg), observer_(observer), index_(cfg.capacity == 0 ? 1 : cfg.capacity) {
  static_assert(kCount == kClasses);
  if (cfg_.capacity == 0) cfg_.capacity = 1;
  slots_.resize(size_t{cfg_.capacity} + 1);
  links_.resize(slots_.size());
  free_.reserve(cfg_.capacity);
  for (uint32_t s = cfg_.capacity; s >= 1; --s) free_.push_back(s);  // slot 1 is used first
  // Headroom beyond capacity: the hash map then always squashes erase
  // tombstones in place instead of growing (it does so while size <= 25/32
  // of its bucket count), so churn never reallocates it.
  frags_.reserve(size_t{cfg_.fragments} * 32 / 25 + 1);
  frag_ring_.resize(cfg_.fragments);
  for (int c = 0; c < kClasses; ++c) head_[c] = tail_[c] = 0;
}

size_t FlowTable::memory_bytes() const {
  // A swiss table bucket is its value plus one control byte.
  return slots_.capacity() * sizeof(Flow) + links_.capacity() * sizeof(Link) +
         free_.capacity() * sizeof(uint32_t) + index_.memory_bytes() +
         frags_.capacity() * (sizeof(std::pair<const FragKey, FragEntry>) + 1) +
         frag_ring_.capacity() * sizeof(FragAge);
}

Timestamp FlowTable::timeout_of(uint8_t tclass) const {
  switch (tclass) {
    case kTcpNew:
      return cfg_.tcp_new;
    case kTcpEstablished:
      return cfg_.tcp_established;
    case kTcpClosing:
      return cfg_.tcp_closing;
    case kTcpClosed:
      return cfg_.tcp_closed;
    case kUdp:
      return cfg_.udp;
    case kIcmp:
      return cfg_.icmp;
    case kOffloaded:
      return cfg_.offloaded;
    default:
      return cfg_.other;
  }
}

uint8_t FlowTable::class_of(const Flow& f) const {
  if (f.offload == FlowOffload::Offloaded && f.state != FlowState::Closed) return kOffloaded;
  switch (f.key.proto) {
    case kProtoTcp:
      // A refused connection attempt lingers as long as an unanswered one
      // would, absorbing the SYN sent again (1, 3, 7, 15 s later).
      if (f.ended_blocked) return kTcpNew;
      switch (f.state) {
        case FlowState::New:
          return kTcpNew;
        case FlowState::Established:
          return kTcpEstablished;
        case FlowState::Closing:
          return kTcpClosing;
        case FlowState::Closed:
          return kTcpClosed;
      }
      return kTcpNew;
    case kProtoUdp:
      return kUdp;
    case kProtoIcmp:
    case kProtoIcmp6:
      return kIcmp;
    default:
      return kOther;
  }
}

void FlowTable::link(uint32_t slot, uint8_t tclass) {
  slots_[slot].tclass = tclass;
  Link& l = links_[slot];
  l.next = 0;
  l.prev = tail_[tclass];
  if (l.prev) {
    links_[l.prev].next = slot;
  } else {
    head_[tclass] = slot;
  }
  tail_[tclass] = slot;
}

void FlowTable::unlink(uint32_t slot) {
  Link& l = links_[slot];
  const uint8_t tclass = slots_[slot].tclass;
  if (l.prev) {
    links_[l.prev].next = l.next;
  } else {
    head_[tclass] = l.next;
  }
  if (l.next) {
    links_[l.next].prev = l.prev;
  } else {
    tail_[tclass] = l.prev;
  }
  l.prev = l.next = 0;
}

void FlowTable::report(Flow& f, FlowEndReason reason, Timestamp now) {
  if (f.end_reported) return;
  f.end_reported = true;
  ++stats_.ended;
  if (reason == FlowEndReason::Timeout) ++stats_.timed_out;
  if (reason == FlowEndReason::Evicted) ++stats_.evicted;
  if (observer_) observer_->on_flow_end(f, reason, now);
}

void FlowTable::end_blocked(Flow& f, FlowEndReason reason, Timestamp now) {
  if (f.end_reported) return;
  uint32_t slot = static_cast<uint32_t>(&f - slots_.data());
  f.state = FlowState::Closed;
  f.ended_blocked = true;
  report(f, reason, now);
  unlink(slot);
  link(slot, class_of(f));
}

void FlowTable::release(uint32_t slot) {
  Flow& f = slots_[slot];
  unlink(slot);
  index_.erase(hash_of(f.key), slot);
  f.id = 0;  // invalidates fragment entries that still name this slot
  f.data.clear();
  free_.push_back(slot);
  --live_;
}

void FlowTable::end(uint32_t slot, FlowEndReason reason, Timestamp now) {
  report(slots_[slot], reason, now);
  release(slot);
}

uint32_t FlowTable::alloc_slot(Timestamp now) {
  if (free_.empty()) {
    if (uint32_t closed = head_[kTcpClosed]) {
      release(closed);  // its end is already reported
    } else {
      uint32_t victim = 0;
      for (int c = 0; c < kClasses; ++c) {
        uint32_t h = head_[c];
        if (h && (!victim || slots_[h].last < slots_[victim].last)) victim = h;
      }
      if (!victim) std::abort();  // a full table with every list empty cannot happen
      end(victim, FlowEndReason::Evicted, now);
    }
  }
  uint32_t slot = free_.back();
  free_.pop_back();
  return slot;
}

void FlowTable::account(uint32_t slot, Dir dir, const Decoded& pkt, Timestamp now) {
  Flow& f = slots_[slot];
  ++f.pkts[dir];
  f.bytes[dir] += pkt.ip_len;
  f.last = now;
  f.seen |= static_cast<uint8_t>(1u << dir);

  if (f.key.proto == kProtoTcp) {
    const uint8_t flags = pkt.tcp_flags;
    if (f.state != FlowState::Closed) {
      if (flags & kRst) {
        f.state = FlowState::Closed;
        report(f, FlowEndReason::Rst, now);
      } else {
        if (f.state == FlowState::New) {
          if (flags & kSyn) {
            if (!(flags & kAck) && dir == kToServer) f.handshake |= kSawSyn;
            if ((flags & kAck) && dir == kToClient) f.handshake |= kSawSynAck;
          } else if (flags & kAck) {
            // The handshake's final ACK, or (picked up midstream) any ACK
            // from the responder once both sides have spoken.
            bool done = dir == kToServer ? (f.handshake & kSawSynAck) != 0 : f.seen == 3;
            if (done) f.state = FlowState::Established;
          }
        }
        if (flags & kFin) {
          f.fin_seen |= static_cast<uint8_t>(1u << dir);
          if (f.fin_seen == 3) {
            f.state = FlowState::Closed;
            report(f, FlowEndReason::Fin, now);
          } else {
            f.state = FlowState::Closing;
          }
        }
      }
    }
  } else if (f.state == FlowState::New && f.seen == 3) {
    f.state = FlowState::Established;
  }

  // Move to the tail of its (possibly new) class list: lists stay ordered by last-seen.
  unlink(slot);
  link(slot, class_of(f));
}

FlowTable::Result FlowTable::track(const Decoded& pkt, Timestamp now, const uint64_t* key_hash) {
  // A fragment without an upper-layer header is a non-first fragment, except
  // an offset-0 fragment of a protocol the decoder never reads a header of.
  if (pkt.is_fragment && !pkt.has_ports && (pkt.frag_offset != 0 || has_l4_fields(pkt.proto))) {
    return track_fragment(pkt, now);
  }
  const bool l4 = has_l4_fields(pkt.proto);
  const uint16_t sport = l4 ? pkt.sport : 0, dport = l4 ? pkt.dport : 0;
  OrientedKey ok = make_key(pkt.src, sport, pkt.dst, dport, pkt.proto);
  bool sender_is_lo = ok.sender_is_lo;

  uint32_t slot = 0;
  const uint64_t hash = key_hash ? *key_hash : hash_of(ok.key);
  assert(hash == hash_of(ok.key));  // a caller's hash is this packet's
  slot = find_slot(ok.key, hash);
  if (!slot && is_icmp(pkt.proto)) {
    // A reply: the flow's key holds the request's type, sent the other way.
    int other = icmp_counterpart(pkt.proto, sport);
    if (other >= 0) {
      OrientedKey rk = make_key(pkt.dst, static_cast<uint16_t>(other), pkt.src, dport, pkt.proto);
      if (uint32_t reply = find_slot(rk.key)) {
        slot = reply;
        sender_is_lo = !rk.sender_is_lo;
      }
    }
  }
  // A new connection attempt on a closed (lingering) flow starts a new flow,
  // unless its verdict ended it: then it is the blocked SYN sent again.
  if (slot && pkt.proto == kProtoTcp && slots_[slot].state == FlowState::Closed &&
      !slots_[slot].ended_blocked && (pkt.tcp_flags & (kSyn | kAck)) == kSyn) {
    release(slot);  // its end is already reported
    slot = 0;
    sender_is_lo = ok.sender_is_lo;
  }

  // An offloaded flow's packets stop reaching the queue once the kernel has its
  // mark; the few queued before it are late, not gone. One that arrives after
  // kOffloadGone without any means the kernel no longer holds that mark: the
  // connection ended there (its end event is still on its way, or was lost)
  // and a new one uses the same addresses and ports (a UDP socket's random
  // port, a NAT's), or someone cleared the mark. The old flow ends (conntrack
  // timed it out, as far as we can tell) and this packet starts a new flow,
  // judged afresh, instead of the new connection living on as the old one's
  // late packets, queued for good.
  bool gone = false;
  if (slot && slots_[slot].offload == FlowOffload::Offloaded && !slots_[slot].end_reported &&
      now - slots_[slot].last >= kOffloadGone) {
    end(slot, FlowEndReason::Timeout, now);
    slot = 0;
    sender_is_lo = ok.sender_is_lo;
    gone = true;
  }

  Result r;
  r.offload_gone = gone;
  if (!slot) {
    slot = alloc_slot(now);
    Flow& f = slots_[slot];
    f = Flow{};
    f.key = ok.key;
    f.orig_is_lo = sender_is_lo;
    f.id = next_id_++;
    f.start = now;
    f.last = now;
    index_.insert(hash, slot);
    link(slot, class_of(f));
    ++live_;
    ++stats_.created;
    r.created = true;
  }
  Flow& f = slots_[slot];
  r.flow = &f;
  r.dir = sender_is_lo == f.orig_is_lo ? kToServer : kToClient;
  account(slot, r.dir, pkt, now);
  if (pkt.is_fragment) remember_fragment(pkt, slot, r.dir, now);
  return r;
}

uint64_t FlowTable::prefetch_index(const Decoded& pkt) const {
  const bool l4 = has_l4_fields(pkt.proto);
  const OrientedKey ok =
      make_key(pkt.src, l4 ? pkt.sport : 0, pkt.dst, l4 ? pkt.dport : 0, pkt.proto);
  const uint64_t hash = hash_of(ok.key);
  index_.prefetch(hash);
  return hash;
}

uint32_t FlowTable::prefetch_flow(uint64_t hash) const {
  const uint32_t slot = index_.peek(hash);
  if (slot) {
    const auto* flow = reinterpret_cast<const char*>(&slots_[slot]);
    for (size_t line = 0; line < sizeof(Flow); line += 64) __builtin_prefetch(flow + line);
    __builtin_prefetch(&links_[slot]);
  }
  return slot;
}

void FlowTable::prefetch_links(uint32_t slot) const {
  if (slot == 0 || slot >= links_.size()) return;
  const Link& l = links_[slot];
  if (l.prev) __builtin_prefetch(&links_[l.prev], 1);
  if (l.next) __builtin_prefetch(&links_[l.next], 1);
}

Flow* FlowTable::find(const FlowKey& key) {
  const uint32_t slot = find_slot(key);
  return slot ? &slots_[slot] : nullptr;
}

const Flow* FlowTable::find(const FlowKey& key) const {
  const uint32_t slot = find_slot(key);
  return slot ? &slots_[slot] : nullptr;
}

void FlowTable::set_offload(Flow& f, FlowOffload state) {
  const auto slot = static_cast<uint32_t>(&f - slots_.data());
  f.offload = state;
  unlink(slot);
  link(slot, class_of(f));
}

void FlowTable::end_flow(Flow& f, FlowEndReason reason, Timestamp now) {
  end(static_cast<uint32_t>(&f - slots_.data()), reason, now);
}

FlowTable::Result FlowTable::track_fragment(const Decoded& pkt, Timestamp now) {
  Result r;
  uint32_t slot = 0;
  auto it = frags_.find(FragKey{pkt.src, pkt.dst, pkt.frag_id, pkt.proto});
  if (it != frags_.end() && it->second.expires > now &&
      slots_[it->second.slot].id == it->second.flow_id) {
    slot = it->second.slot;
    r.dir = it->second.dir;
  } else if (!has_l4_fields(pkt.proto)) {
    // No ports in the key: the addresses alone find the flow.
    OrientedKey ok = make_key(pkt.src, 0, pkt.dst, 0, pkt.proto);
    if ((slot = find_slot(ok.key)) != 0) {
      r.dir = ok.sender_is_lo == slots_[slot].orig_is_lo ? kToServer : kToClient;
    }
  }
  if (!slot) {
    ++stats_.fragments_unmatched;
    return r;
  }
  r.flow = &slots_[slot];
  account(slot, r.dir, pkt, now);
  return r;
}

void FlowTable::purge_fragments(Timestamp now) {
  while (frag_count_ > 0 && frag_ring_[frag_head_].expires <= now) {
    frags_.erase(frag_ring_[frag_head_].key);
    frag_head_ = frag_head_ + 1 == frag_ring_.size() ? 0 : frag_head_ + 1;
    --frag_count_;
  }
}

void FlowTable::remember_fragment(const Decoded& pkt, uint32_t slot, Dir dir, Timestamp now) {
  purge_fragments(now);
  FragKey key{pkt.src, pkt.dst, pkt.frag_id, pkt.proto};
  const uint64_t id = slots_[slot].id;
  if (auto it = frags_.find(key); it != frags_.end()) {
    // Seen again (a repeated first fragment, or an id reused within the
    // lifetime): point it at this flow; it keeps its place in the ring.
    it->second.slot = slot;
    it->second.dir = dir;
    it->second.flow_id = id;
    return;
  }
  if (frag_count_ == frag_ring_.size()) {
    ++stats_.fragments_table_full;
    return;
  }
  const Timestamp expires = now + kFragmentLifetime;
  frags_.emplace(key, FragEntry{slot, dir, id, expires});
  size_t pos = frag_head_ + frag_count_;
  if (pos >= frag_ring_.size()) pos -= frag_ring_.size();
  frag_ring_[pos] = FragAge{key, expires};
  ++frag_count_;
}

void FlowTable::expire(Timestamp now) {
  for (int c = 0; c < kClasses; ++c) {
    const Timestamp timeout = timeout_of(static_cast<uint8_t>(c));
    while (uint32_t slot = head_[c]) {
      if (now - slots_[slot].last < timeout) break;
      end(slot, FlowEndReason::Timeout, now);  // a lingering closed flow is freed silently
    }
  }
  purge_fragments(now);
}

void FlowTable::flush(Timestamp now) {
  for (int c = 0; c < kClasses; ++c) {
    while (uint32_t slot = head_[c]) end(slot, FlowEndReason::Shutdown, now);
  }
  // Erase one by one (clear() would free the buckets of a large map).
  while (frag_count_ > 0) {
    frags_.erase(frag_ring_[frag_head_].key);
    frag_head_ = frag_head_ + 1 == frag_ring_.size() ? 0 : frag_head_ + 1;
    --frag_count_;
  }
}

}  // namespace tripline
