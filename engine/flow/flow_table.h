// The per-worker flow table: both directions of a 5-tuple are one flow whose
// "original" direction is whoever sent the first packet. Tracks TCP state,
// per-direction counters and timeouts per protocol/state, bounds its size by
// evicting the stalest flow, and reports every flow's end exactly once.
// Storage is preallocated: tracking allocates nothing in the steady state.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client_id.h"
#include "config.h"
#include "decode.h"
#include "huge_page_allocator.h"
#include "ip_address.h"
#include "slot_index.h"
#include "timestamp.h"
#include "verdict.h"

namespace tripline {

enum class FlowState : uint8_t { New, Established, Closing, Closed };
// Rejected, Dropped: the flow's own verdict ended it (FlowTable::end_blocked).
enum class FlowEndReason : uint8_t { Fin, Rst, Timeout, Evicted, Shutdown, Rejected, Dropped };
// "new", "established", "closing", "closed"
const char* to_string(FlowState s);
// "fin", "rst", "timeout", "evicted", "shutdown", "rejected", "dropped"
const char* to_string(FlowEndReason r);

// Canonical key: the (address, port) pair that sorts lower comes first, so
// both directions of a connection map to the same key. For ICMP/ICMPv6 the
// ports hold the type and code of the flow's first packet; a reply type (echo
// reply, ...) joins the flow of its request. Protocols without ports use 0.
struct FlowKey {
  IpAddr lo, hi;
  uint16_t lo_port = 0, hi_port = 0;
  uint8_t proto = 0;

  // The key as five words (addresses, then families, ports and protocol), so
  // comparing and hashing are a few register operations rather than calls
  // to memcmp: every packet's lookup does both.
  std::array<uint64_t, 5> words() const {
    std::array<uint64_t, 5> w;
    std::memcpy(&w[0], lo.bytes.data(), 8);
    std::memcpy(&w[1], lo.bytes.data() + 8, 8);
    std::memcpy(&w[2], hi.bytes.data(), 8);
    std::memcpy(&w[3], hi.bytes.data() + 8, 8);
    w[4] = uint64_t{lo.family} | uint64_t{hi.family} << 8 | uint64_t{lo_port} << 16 |
           uint64_t{hi_port} << 32 | uint64_t{proto} << 48;
    return w;
  }
  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    const auto x = a.words(), y = b.words();
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
  }
  template <typename H>
  friend H AbslHashValue(H h, const FlowKey& k) {
    const auto w = k.words();
    return H::combine(std::move(h), w[0], w[1], w[2], w[3], w[4]);
  }
};

// Flow::watch bits.
constexpr uint8_t kWatchLua = 1;

// Where a flow's packets go (the worker's offload decision).
enum class FlowOffload : uint8_t {
  None,       // every packet is queued to tripline
  Offloaded,  // asked the kernel to carry it (its conntrack mark)
  Refused,    // the kernel could not (no entry): never asked again
};

// Direction index into per-direction arrays.
enum Dir : uint8_t { kToServer = 0, kToClient = 1 };

// Per-flow data that stages attach for later stages, events and scripts: one
// typed slot per kind (Snort 3's FlowData, as fixed slots rather than a list
// keyed by inspector). The flow owns it: it stays valid until the flow table
// frees the flow, i.e. through the flow event, every stage's on_flow_end and
// the packets a closed TCP flow still absorbs. Reading never allocates;
// setting allocates at most once per flow.
class FlowData {
 public:
  // The DNS name the flow was reached by (set by the egress policy on a new
  // flow a DNS answer opened).
  bool has_dns_name() const { return dns_name_ != nullptr; }
  std::string_view dns_name() const { return dns_name_ ? *dns_name_ : std::string_view(); }
  void set_dns_name(std::string_view name) {
    if (dns_name_)
      dns_name_->assign(name);
    else
      dns_name_ = std::make_unique<std::string>(name);
  }

  // The client's host (its link-layer address; set by the egress policy on a
  // new flow whose client it identified as a host; zeros: not known).
  const MacAddr& client_host() const { return client_host_; }
  void set_client_host(const MacAddr& mac) { client_host_ = mac; }

  // The client's name from the DHCP leases ([clients] leases; set by the
  // egress policy on a new flow; shared with the name table, so setting it
  // allocates nothing). Empty: not named.
  bool has_client_name() const { return client_name_ != nullptr; }
  std::string_view client_name() const { return client_name_ ? *client_name_ : std::string_view(); }
  void set_client_name(std::shared_ptr<const std::string> name) { client_name_ = std::move(name); }

  // Frees everything (the flow table, when it frees the flow).
  void clear() {
    dns_name_.reset();
    client_host_ = MacAddr{};
    client_name_.reset();
  }

 private:
  std::unique_ptr<std::string> dns_name_;
  MacAddr client_host_;
  std::shared_ptr<const std::string> client_name_;
};

// Laid out for the per-packet path: the lookup's key, the state and the
// last-seen time share the first cache line; counters and the decision the
// second.
struct alignas(64) Flow {
  FlowKey key;
  bool orig_is_lo = true;  // the original direction goes lo -> hi
  FlowState state = FlowState::New;
  uint8_t fin_seen = 0;        // bit per Dir
  uint8_t tclass = 0;          // timeout class (internal)
  bool end_reported = false;   // a Fin/Rst/Rejected/Dropped end event was already emitted
  bool ended_blocked = false;  // ended by its own drop/reject verdict (end_blocked)
  uint8_t seen = 0;            // bit per Dir that has sent a packet (internal)
  uint8_t handshake = 0;       // TCP SYN / SYN-ACK seen (internal)
  uint8_t watch = 0;           // kWatch* bits: a trigger wants this flow's packets
  // Offload (engine/conntrack): the kernel carries the flow; its end comes
  // from conntrack. Set through FlowTable::set_offload.
  FlowOffload offload = FlowOffload::None;
  // Offloaded by the deciding verdict's mark alone (a save rule copies it to
  // the connection); conntrack was not told through ctnetlink (yet).
  bool offload_by_verdict = false;
  // Its packets queued after that verdict whose verdicts carried the mark
  // again (Worker::process; then ctnetlink).
  uint8_t offload_remarks = 0;
  bool decided = false;  // `decision` holds the pipeline's decision
  Timestamp last = 0;
  uint64_t pkts[2] = {0, 0};
  uint64_t bytes[2] = {0, 0};
  // The decision the pipeline took for this flow; later packets reuse it.
  Decision decision;
  uint64_t id = 0;  // unique per worker and run, never 0
  Timestamp start = 0;
  // What stages attached to this flow (see FlowData).
  FlowData data;

  const IpAddr& src() const { return orig_is_lo ? key.lo : key.hi; }
  const IpAddr& dst() const { return orig_is_lo ? key.hi : key.lo; }
  uint16_t sport() const { return orig_is_lo ? key.lo_port : key.hi_port; }
  uint16_t dport() const { return orig_is_lo ? key.hi_port : key.lo_port; }
  uint8_t proto() const { return key.proto; }
};

// What the kernel carried of an offloaded flow: conntrack's counts beyond the
// packets tripline saw, per Dir (Suricata's flow.bypassed).
struct FlowBypass {
  uint64_t pkts[2] = {0, 0};
  uint64_t bytes[2] = {0, 0};
};

// Receives flow ends. Called synchronously from track/expire/flush; the Flow
// reference is valid only during the call.
class FlowObserver {
 public:
  virtual ~FlowObserver() = default;
  virtual void on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) = 0;
};

struct FlowTableStats {
  uint64_t created = 0;
  uint64_t ended = 0;                // end events emitted (all reasons)
  uint64_t timed_out = 0;            // end events with reason Timeout
  uint64_t evicted = 0;              // end events with reason Evicted
  uint64_t fragments_unmatched = 0;  // non-first fragments with no known flow
  uint64_t fragments_table_full = 0;
};

class FlowTable {
 public:
  FlowTable(const FlowConfig& cfg, FlowObserver* observer);
  // The index refers to slots_ by address: a table stays where it was built.
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  struct Result {
    Flow* flow = nullptr;  // null only for a non-first fragment of an unknown flow
    bool created = false;  // this packet started the flow
    // It started the flow in place of an offloaded one the kernel no longer
    // carries (its packets reached the queue again after 1 s without any):
    // that one ended (timeout).
    bool offload_gone = false;
    Dir dir = kToServer;
  };
  // Finds or creates the flow of a decoded packet and accounts the packet
  // (counters, last-seen, TCP state). A non-first fragment is matched to its
  // flow by (src, dst, proto, fragment id), learned from the first fragment;
  // it never creates a flow. A TCP SYN on a closed flow ends it and starts a
  // new one. Entering Closed (FIN both ways, or RST) emits the end event at
  // once; the entry lingers for tcp_closed to absorb stragglers.
  // `key_hash`: prefetch_index()'s return for this packet, if the caller has it.
  Result track(const Decoded& pkt, Timestamp now, const uint64_t* key_hash = nullptr);

  // A flow whose verdict is drop or reject ends at once (reason Rejected or
  // Dropped) rather than lingering as "new" until its timeout: the end is
  // reported now and the entry (state closed) stays as long as the flow would
  // have (TCP: tcp_new), keeping its decision for the packets still coming (a
  // dropped SYN's retransmissions stay in it instead of starting new flows),
  // then goes silently. Does nothing once reported.
  void end_blocked(Flow& flow, FlowEndReason reason, Timestamp now);

  // For a source that reads packets ahead of judging them (replay): warms
  // the index line of a packet's flow and returns the key's hash; given that
  // hash a packet later, warms the flow's own lines. Both only prefetch: the
  // table is unchanged, and a guess gone stale costs nothing but the load.
  // A third step, a packet later still, warms the flow's neighbours in its
  // last-seen list (prefetch_flow's return value; 0: nothing to do).
  uint64_t prefetch_index(const Decoded& pkt) const;
  uint32_t prefetch_flow(uint64_t hash) const;
  void prefetch_links(uint32_t slot) const;

  // Ends every flow whose timeout has passed at `now`.
  void expire(Timestamp now);
  // Ends every flow (reason Shutdown) and empties the table.
  void flush(Timestamp now);

  // Offload: the flow of `key` (either direction), or null.
  Flow* find(const FlowKey& key);
  const Flow* find(const FlowKey& key) const;
  // Sets a flow's offload state. An offloaded flow times out after
  // FlowConfig::offloaded (the kernel reports its end, not its packets).
  void set_offload(Flow& f, FlowOffload state);
  // Ends one flow now (reported unless already, then freed).
  void end_flow(Flow& f, FlowEndReason reason, Timestamp now);
  // Calls fn(Flow&) for every flow in the table (not for a Closed flow that
  // only lingers). fn must not add or end flows.
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (int c = 0; c < kClasses; ++c)
      for (uint32_t s = head_[c]; s; s = links_[s].next)
        if (!slots_[s].end_reported) fn(slots_[s]);
  }

  size_t size() const { return live_; }
  // Calls f(const Flow&) for every flow in the table (the control socket's
  // snapshot, on the owning worker's thread). Allocates nothing.
  template <typename F>
  void for_each(F&& f) const {
    index_.for_each([&](uint32_t slot) { f(slots_[slot]); });
  }
  const FlowTableStats& stats() const { return stats_; }
  // Bytes of table storage per flow slot, list links included (for the
  // memory target).
  static constexpr size_t slot_bytes() { return sizeof(Flow) + 2 * sizeof(uint32_t); }
  // Bytes the table allocated (slots, free list, index and fragment tables,
  // counted from their capacities); all of it is allocated at construction.
  size_t memory_bytes() const;

 private:
  // Implementation-defined; see flow_table.cpp.
  friend struct FlowTablePeer;  // white-box checks in the unit tests

  struct FragKey {
    IpAddr src, dst;
    uint32_t id = 0;
    uint8_t proto = 0;
    friend bool operator==(const FragKey&, const FragKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const FragKey& k) {
      return H::combine(std::move(h), k.src, k.dst, k.id, k.proto);
    }
  };
  struct FragEntry {
    uint32_t slot = 0;
    Dir dir = kToServer;
    uint64_t flow_id = 0;  // stale when the slot now holds another flow
    Timestamp expires = 0;
  };
  // Fragment entries in insertion order, so purging looks only at the oldest.
  struct FragAge {
    FragKey key;
    Timestamp expires = 0;
  };
  static constexpr int kClasses = 8;

  Result track_fragment(const Decoded& pkt, Timestamp now);
  // Counts the packet, updates state and list position; may report the end.
  void account(uint32_t slot, Dir dir, const Decoded& pkt, Timestamp now);
  void remember_fragment(const Decoded& pkt, uint32_t slot, Dir dir, Timestamp now);
  void purge_fragments(Timestamp now);
  Timestamp timeout_of(uint8_t tclass) const;
  uint8_t class_of(const Flow& f) const;
  void link(uint32_t slot, uint8_t tclass);
  void unlink(uint32_t slot);
  void report(Flow& f, FlowEndReason reason, Timestamp now);     // once per flow
  void end(uint32_t slot, FlowEndReason reason, Timestamp now);  // report (if not yet) and free
  void release(uint32_t slot);                                   // free without an event
  uint32_t alloc_slot(Timestamp now);

  FlowConfig cfg_;
  FlowObserver* observer_;
  // Slot 0 is never a flow: 0 is "none" in list links.
  std::vector<Flow, HugePageAllocator<Flow>> slots_;
  std::vector<uint32_t> free_;  // free slot indices
  // The timeout-class lists' links, per slot, apart from the flows: moving a
  // flow to its list's tail on every packet touches its neighbours' links,
  // which stay in a few cache lines here rather than one flow each.
  struct Link {
    uint32_t prev = 0, next = 0;
  };
  std::vector<Link, HugePageAllocator<Link>> links_;
  // Key hash -> slot; comparing looks at the key stored in the slot.
  static uint64_t hash_of(const FlowKey& k) { return absl::Hash<FlowKey>{}(k); }
  uint32_t find_slot(const FlowKey& k, uint64_t hash) const {
    return index_.find(hash, [&](uint32_t slot) { return slots_[slot].key == k; });
  }
  uint32_t find_slot(const FlowKey& k) const { return find_slot(k, hash_of(k)); }
  SlotIndex index_;
  absl::flat_hash_map<FragKey, FragEntry> frags_;
  std::vector<FragAge> frag_ring_;  // one entry per frags_ entry, oldest at frag_head_
  size_t frag_head_ = 0;
  size_t frag_count_ = 0;
  uint32_t head_[kClasses];  // per class: oldest first (0 = empty)
  uint32_t tail_[kClasses];
  size_t live_ = 0;
  uint64_t next_id_ = 1;
  FlowTableStats stats_;
};

}  // namespace tripline
