// Which IP addresses belong to which host: the kernel's neighbour table (IP ->
// link-layer address, fed by NeighbourMonitor) and the prefixes the gateway is
// directly attached to. Workers ask it who a client is (identify); it changes
// rarely and is read per DNS query and per new flow, never per packet.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "client_id.h"
#include "ip_address.h"

namespace tripline {

struct HostTableConfig {
  bool by_host = true;  // false: every client is its address ([dns] client_identity = "address")
  // Replay: every link-layer source is a directly attached host (a pcap has
  // no neighbour table and no interfaces to tell routed clients apart).
  bool all_on_link = false;
  uint32_t max_entries = 65536;  // neighbour entries kept; more are refused and counted
};

// A prefix the gateway is attached to (one of its own addresses and its
// prefix length): sources in it are on-link, their link-layer address is theirs.
struct OnLinkPrefix {
  IpAddr net;
  uint8_t length = 0;
  uint32_t ifindex = 0;  // 0: any interface
  bool contains(const IpAddr& a) const;
};

struct HostTableStats {
  uint64_t entries = 0;
  uint64_t updates = 0;  // neighbour entries set
  uint64_t removals = 0;
  uint64_t full = 0;  // entries refused at max_entries
  uint64_t prefixes = 0;
  uint64_t by_neighbour = 0;  // identify(): host from the neighbour table
  uint64_t by_packet = 0;     // identify(): host from the packet's link-layer source (on-link)
  uint64_t by_address = 0;    // identify(): no link-layer address known: the address
};

// Thread-safe. Reads take one shard's shared lock (entries) and the prefix
// lock shared; neither allocates. Writers (the neighbour monitor's thread)
// take them exclusively.
class HostTable {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxPrefixes = 256;

  explicit HostTable(const HostTableConfig& config);
  ~HostTable();
  HostTable(const HostTable&) = delete;
  HostTable& operator=(const HostTable&) = delete;

  const HostTableConfig& config() const { return config_; }

  // The neighbour table: addr is reachable on ifindex at mac (set), or no longer (remove).
  void set(const IpAddr& addr, const MacAddr& mac, uint32_t ifindex);
  void remove(const IpAddr& addr, uint32_t ifindex);
  void clear();
  std::optional<MacAddr> find(const IpAddr& addr) const;

  // Replaces the on-link prefixes (at most kMaxPrefixes are kept).
  void set_prefixes(std::span<const OnLinkPrefix> prefixes);
  std::vector<OnLinkPrefix> prefixes() const;
  // addr lies in an on-link prefix (of ifindex, when that is not 0).
  bool on_link(const IpAddr& addr, uint32_t ifindex) const;

  // Who sent a packet from src (link-layer source mac, zeros if unknown,
  // arriving on in_ifindex, 0 if unknown): by address when by_host is off;
  // else the host the neighbour table gives src; else the packet's own
  // link-layer source when src is on-link (a new address, e.g. a rotated
  // IPv6 temporary address, before the kernel has a neighbour entry for it);
  // else (routed clients, no link-layer address) the address. Never allocates.
  ClientId identify(const IpAddr& src, const MacAddr& mac, uint32_t in_ifindex) const;

  size_t size() const;
  HostTableStats stats() const;

 private:
  struct Entry {
    MacAddr mac;
    uint32_t ifindex = 0;
  };
  struct alignas(64) Shard {
    mutable std::shared_mutex mu;
    absl::flat_hash_map<IpAddr, Entry> map;
  };
  Shard& shard_for(const IpAddr& addr) const;

  HostTableConfig config_;
  size_t per_shard_max_;
  std::unique_ptr<Shard[]> shards_;
  mutable std::shared_mutex prefix_mu_;
  std::array<OnLinkPrefix, kMaxPrefixes> prefixes_{};
  size_t prefix_count_ = 0;
  std::atomic<uint64_t> updates_{0}, removals_{0}, full_{0};
  mutable std::atomic<uint64_t> by_neighbour_{0}, by_packet_{0}, by_address_{0};
};

}  // namespace tripline
