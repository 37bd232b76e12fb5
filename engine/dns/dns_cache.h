// The shared DNS cache behind DNS-gated egress: which addresses a trusted resolver
// recently gave to which client (or to anyone, in global scope), by which names,
// until when. Concurrent (sharded, reader-writer locks), bounded, and persistent.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client_id.h"
#include "ip_address.h"
#include "timestamp.h"

namespace tripline {

namespace dns_cache_detail {
struct Shard;
struct NameShard;
}  // namespace dns_cache_detail

struct DnsCacheConfig {
  bool scope_client = true;  // true: an address opens only for the client that resolved it
  uint32_t min_ttl = 60;     // answer TTLs are clamped into [min_ttl, max_ttl] seconds
  uint32_t max_ttl = 86400;
  uint32_t grace = 30;  // seconds after expiry an address still counts as open
  uint32_t max_entries = 262144;
  uint32_t max_addrs_per_name = 64;  // per (scope, qname); the oldest addresses are dropped
  uint32_t keep_expired = 0;         // seconds past grace an entry is kept so lookups say Expired
  uint32_t shards = 0;  // 0: chosen from max_entries (64..128, tables ~7/8 full when full)
};

enum class DnsLookupStatus : uint8_t {
  Open,         // resolved for this client (or globally), not expired beyond grace
  Expired,      // resolved for this client, but expired beyond grace (until purged)
  OtherClient,  // client scope only: open for some other client, not this one
  Unknown,      // never resolved (or purged/evicted)
};
const char* to_string(DnsLookupStatus s);

// A name copied out of the cache into a fixed buffer (lookups do not allocate).
struct DnsName {
  static constexpr size_t kCapacity = 1023;  // longer names are truncated when stored
  char data[kCapacity + 1];
  uint16_t len = 0;
  std::string_view view() const { return {data, len}; }
};

struct DnsLookup {
  DnsLookupStatus status = DnsLookupStatus::Unknown;
  bool in_grace = false;  // Open only thanks to grace
  Timestamp expiry = 0;   // of the entry that decided (0 for Unknown)
  DnsName name;           // the most recent name the client asked for (empty for Unknown)
};

struct DnsCacheStats {
  uint64_t entries = 0;  // current, shadow entries included
  uint64_t inserts = 0;  // new entries
  uint64_t refreshes = 0;
  uint64_t rejected = 0;  // insert without address or names
  uint64_t lookups_open = 0;
  uint64_t lookups_grace = 0;  // subset of lookups_open
  uint64_t lookups_expired = 0;
  uint64_t lookups_other_client = 0;
  uint64_t lookups_unknown = 0;
  uint64_t evictions = 0;        // max_entries reached: soonest-expiring entry removed
  uint64_t name_cap_drops = 0;   // addresses dropped by max_addrs_per_name
  uint64_t name_index_full = 0;  // names not tracked for the cap (index at its bound)
  uint64_t purged = 0;
};

// One entry as the control socket shows it: which client (ClientId{} = every
// client, global scope) an address is open for, by which names, until when.
struct DnsCacheEntry {
  ClientId scope;
  IpAddr addr;
  Timestamp expiry = 0;
  std::vector<std::string> names;  // most recent first
};

// Which entries dns_flush()/entries() mean: an address, a name (any name of
// the entry, exact, lower case, no trailing dot), or (both empty) all.
struct DnsCacheMatch {
  IpAddr addr;       // family 0: not by address
  std::string name;  // empty: not by name
};

struct DnsCacheSaveResult {
  bool ok = false;
  bool refused = false;  // the path holds a file that is not a state file: left as it is
  std::string error;
  size_t entries = 0;
};

struct DnsCacheLoadResult {
  bool ok = false;  // file read (a missing file is not ok, but `missing` is set)
  bool missing = false;
  std::string error;  // whole-file problem: unreadable, wrong header/version
  size_t loaded = 0;
  size_t expired = 0;                 // skipped: expired beyond grace (+keep_expired)
  size_t skipped = 0;                 // skipped: client-scoped entries while in global scope
  size_t corrupt = 0;                 // lines rejected
  std::vector<std::string> warnings;  // "path:line: reason" for the first corrupt lines
};

// Thread-safe: any number of threads may call any method concurrently. Lookups
// take one shard's shared lock; inserts one shard's exclusive lock (and the name
// index's mutex); purge/save visit the shards one at a time.
//
// Layout: key (scope, address) with scope = the client (a host or an address,
// see client_id.h), or ClientId{} for the global scope. The shard is chosen by XXH3 of the address
// alone, so an address's client entries and its global entry share a shard (one lock per lookup).
// In client scope every insert also refreshes a global "shadow" entry for the same address; it only
// serves to tell OtherClient from Unknown (it counts toward max_entries). Each shard holds at most
// ceil(max_entries / shards) entries: when full, the soonest-expiring of 32 consecutive entries in
// hash order (each sample starting where the last ended) is evicted: exactly the soonest while a
// shard holds at most 32, and in a 1,000-entry shard 98 % of what stays is the longer-lived half
// (unit test). No expiry index is kept: it cost about as much memory as the entries. Purge scans
// the shards. The shard count (64..128) is chosen from max_entries so a full shard fills 7/8 of a
// power-of-two table.
//
// Names: each entry keeps up to 4 names, most recent first, in one packed block;
// names the client asked for (qnames) are preferred over CNAME targets when one
// must go. Names are stored as given (the DNS parser lowercases them).
//
// Per-name cap: an index (scope, qname) -> addresses in insertion order; when a
// qname has more than max_addrs_per_name addresses, the oldest loses that qname
// (in its entry and its shadow), and an entry left without any qname is removed. The index is
// bounded like the map; when full, new names go untracked (counted in name_index_full).
class DnsCache {
 public:
  explicit DnsCache(const DnsCacheConfig& config);
  ~DnsCache();
  DnsCache(const DnsCache&) = delete;
  DnsCache& operator=(const DnsCache&) = delete;

  // As built; min_ttl, max_ttl and grace as first configured (see ttl_bounds()).
  const DnsCacheConfig& config() const { return config_; }
  // Reload: new TTL clamp and grace, for answers and lookups from now on
  // (entries keep the expiry they were given). Any thread.
  void set_ttl_bounds(uint32_t min_ttl, uint32_t max_ttl, uint32_t grace);

  // Opens addr for client (or globally) by the chain of names that led to it,
  // qname first (chain[0] is "the name it was reached by"). The TTL is clamped;
  // an existing entry keeps the later of its old and new expiry.
  void insert(const ClientId& client, const IpAddr& addr, std::span<const std::string_view> chain,
              uint32_t ttl_seconds, Timestamp now);
  void insert(const ClientId& client, const IpAddr& addr, std::span<const std::string> chain,
              uint32_t ttl_seconds, Timestamp now);

  // Never allocates.
  DnsLookup lookup(const ClientId& client, const IpAddr& addr, Timestamp now) const;

  // All names of the entry lookup() would consult, most recent first (tests, control plane).
  std::vector<std::string> names(const ClientId& client, const IpAddr& addr) const;

  // The same with the client known by its address (client_identity = "address").
  void insert(const IpAddr& client, const IpAddr& addr, std::span<const std::string_view> chain,
              uint32_t ttl_seconds, Timestamp now) {
    insert(ClientId::address(client), addr, chain, ttl_seconds, now);
  }
  void insert(const IpAddr& client, const IpAddr& addr, std::span<const std::string> chain,
              uint32_t ttl_seconds, Timestamp now) {
    insert(ClientId::address(client), addr, chain, ttl_seconds, now);
  }
  DnsLookup lookup(const IpAddr& client, const IpAddr& addr, Timestamp now) const {
    return lookup(ClientId::address(client), addr, now);
  }
  std::vector<std::string> names(const IpAddr& client, const IpAddr& addr) const {
    return names(ClientId::address(client), addr);
  }

  // Control plane (not the packet path): the entries that match, at most
  // `limit`, shadow entries left out. By address: one shard; by name or all:
  // every shard, one at a time under its shared lock.
  std::vector<DnsCacheEntry> entries(const DnsCacheMatch& match, size_t limit) const;
  // Removes the entries that match (their shadows and name-index places too),
  // so the addresses they opened are closed at once; returns how many entries
  // (shadows not counted) went.
  size_t flush(const DnsCacheMatch& match);

  // Removes entries expired beyond grace (+keep_expired); returns how many.
  size_t purge(Timestamp now);

  // Text file, one entry per line (format: dns_state_file.h); written to path.tmp
  // (created exclusively, mode 0600), fsynced, renamed over path; never over a
  // file that is not a state file (DnsStateFileWriter).
  DnsCacheSaveResult save(const std::string& path, Timestamp now) const;
  // Adds the file's still-valid entries (expiries honoured, capped at now + max_ttl).
  // Only a regular file is read (a FIFO or device is an error, not a hang).
  DnsCacheLoadResult load(const std::string& path, Timestamp now);
  DnsCacheLoadResult load_from_string(std::string_view text, Timestamp now,
                                      std::string_view name = "<string>");

  size_t size() const;
  DnsCacheStats stats() const;
  // Bytes the cache holds now: its tables (from their capacities) and each
  // entry's name block. Walks every entry: for `tripline bench`, not the packet path.
  size_t memory_bytes() const;

 private:
  dns_cache_detail::Shard& shard_for(const IpAddr& addr) const;
  void apply_name_cap(const ClientId& scope, const IpAddr& addr, std::string_view qname,
                      Timestamp expiry);
  Timestamp removable_before(Timestamp now) const;  // expiry below this: gone for good

  DnsCacheConfig config_;
  // What reload may change (set_ttl_bounds), read relaxed where config_'s were.
  std::atomic<uint32_t> min_ttl_{0}, max_ttl_{0}, grace_{0};
  size_t shard_count_ = 0;
  size_t per_shard_max_ = 0;
  size_t per_name_shard_max_ = 0;
  std::unique_ptr<dns_cache_detail::Shard[]> shards_;
  std::unique_ptr<dns_cache_detail::NameShard[]> name_shards_;
};

}  // namespace tripline
