#include "dns_cache.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "bounded_file.h"
#include "dns_state_file.h"

namespace tripline {

namespace dns_cache_detail {
namespace {

constexpr size_t kMaxNames = 4;
constexpr size_t kEvictSample = 32;

// Up to kMaxNames names, most recent first, packed in one heap block as
// [total len hi][total len lo] then per name [flags][len hi][len lo][bytes];
// flags bit 0: the client asked for this name. The entry holds one pointer.
class NameList {
 public:
  NameList() = default;
  NameList(NameList&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  NameList& operator=(NameList&& o) noexcept {
    if (this != &o) {
      delete[] p_;
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  NameList(const NameList&) = delete;
  NameList& operator=(const NameList&) = delete;
  ~NameList() { delete[] p_; }

  template <typename F>
  void each(F&& f) const {  // f(name, is_qname) -> bool: false stops
    each_in(bytes(), std::forward<F>(f));
  }

  void add(std::string_view name, bool qname) { add_chain({&name, 1}, qname); }

  // Adds chain[n-1] .. chain[1] as CNAME targets, then chain[0] (a qname when
  // `qname`), as that many add()s would, but with one heap block at most: none
  // when the list comes out as it was (a refresh of the same answer).
  void add_chain(std::span<const std::string_view> chain, bool qname = true) {
    char a[kListMax], b[kListMax];
    std::string_view cur = bytes();
    if (!cur.empty()) std::memcpy(a, cur.data(), cur.size());
    size_t n = cur.size();
    char* from = a;
    char* to = b;
    for (size_t i = chain.size(); i-- > 0;) {
      n = add_into(std::string_view(from, n), chain[i], i == 0 && qname, to);
      std::swap(from, to);
    }
    if (std::string_view(from, n) == bytes()) return;
    assign(from, n);
  }

  bool remove(std::string_view name) {
    std::string_view b = bytes();
    size_t pos = 0;
    while (pos + 3 <= b.size()) {
      size_t len = item_len(b, pos);
      if (b.substr(pos + 3, len) == name) {
        char buf[kMaxNames * (3 + DnsName::kCapacity)];
        std::memcpy(buf, b.data(), pos);
        std::memcpy(buf + pos, b.data() + pos + 3 + len, b.size() - pos - 3 - len);
        assign(buf, b.size() - 3 - len);
        return true;
      }
      pos += 3 + len;
    }
    return false;
  }

  bool has_qname() const {
    bool any = false;
    each([&](std::string_view, bool q) { return !(any = q); });
    return any;
  }

  // The most recent name the client asked for (or the most recent name at all).
  std::string_view primary() const {
    std::string_view first, q;
    each([&](std::string_view n, bool is_q) {
      if (first.empty()) first = n;
      if (is_q) q = n;
      return !is_q;
    });
    return q.empty() ? first : q;
  }

 private:
  static constexpr size_t npos = std::string::npos;
  // A list's bytes: up to kMaxNames items, and room for one more while adding.
  static constexpr size_t kListMax = (kMaxNames + 1) * (3 + DnsName::kCapacity);

  // Writes into `out` the list with `name` first, then `list`'s other names;
  // over kMaxNames, the oldest CNAME target goes (the oldest name if all are
  // qnames). Returns the new list's length.
  static size_t add_into(std::string_view list, std::string_view name, bool qname, char* out) {
    name = name.substr(0, DnsName::kCapacity);
    size_t n = 0;
    size_t count = 1;
    auto put = [&](std::string_view item_name, bool q) {
      out[n] = q ? 1 : 0;
      out[n + 1] = static_cast<char>(item_name.size() >> 8);
      out[n + 2] = static_cast<char>(item_name.size() & 0xff);
      if (!item_name.empty()) std::memcpy(out + n + 3, item_name.data(), item_name.size());
      n += 3 + item_name.size();
    };
    each_in(list, [&](std::string_view other, bool q) {
      if (other == name) qname |= q;
      return true;
    });
    put(name, qname);
    each_in(list, [&](std::string_view other, bool q) {
      if (other != name) {
        put(other, q);
        ++count;
      }
      return true;
    });
    if (count > kMaxNames) {
      size_t victim = npos, last = npos, pos = 0;
      while (pos + 3 <= n) {
        if ((out[pos] & 1) == 0) victim = pos;
        last = pos;
        pos += 3 + item_len({out, n}, pos);
      }
      size_t at = victim != npos ? victim : last;
      size_t len = 3 + item_len({out, n}, at);
      std::memmove(out + at, out + at + len, n - at - len);
      n -= len;
    }
    return n;
  }
  template <typename F>
  static void each_in(std::string_view b, F&& f) {  // f(name, is_qname) -> bool: false stops
    size_t pos = 0;
    while (pos + 3 <= b.size()) {
      size_t len = item_len(b, pos);
      if (!f(b.substr(pos + 3, len), (b[pos] & 1) != 0)) return;
      pos += 3 + len;
    }
  }
  static size_t item_len(std::string_view b, size_t pos) {
    return static_cast<uint8_t>(b[pos + 1]) << 8 | static_cast<uint8_t>(b[pos + 2]);
  }
  std::string_view bytes() const {
    if (!p_) return {};
    size_t len = static_cast<uint8_t>(p_[0]) << 8 | static_cast<uint8_t>(p_[1]);
    return {p_ + 2, len};
  }
  // The list becomes list[0, n) (a new block; none when empty).
  void assign(const char* list, size_t n) {
    delete[] p_;
    p_ = nullptr;
    if (n == 0) return;
    p_ = new char[2 + n];
    p_[0] = static_cast<char>(n >> 8);
    p_[1] = static_cast<char>(n & 0xff);
    std::memcpy(p_ + 2, list, n);
  }

  char* p_ = nullptr;
};

}  // namespace

struct Key {
  ClientId scope;  // client, or ClientId{} for the global scope
  IpAddr addr;
  friend bool operator==(const Key&, const Key&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Key& k) {
    return H::combine(std::move(h), k.scope, k.addr);
  }
};

struct Entry {
  NameList names;
  Timestamp expiry = 0;
};

struct alignas(64) Shard {
  mutable std::shared_mutex mu;
  absl::flat_hash_map<Key, Entry> map;
  Key evict_cursor;  // where the next eviction sample starts (if still present)
  bool has_cursor = false;
  // Written under the exclusive lock or, for lookups, concurrently: relaxed atomics.
  mutable std::atomic<uint64_t> inserts{0}, refreshes{0}, rejected{0}, evictions{0}, purged{0},
      name_cap_drops{0}, open{0}, grace{0}, expired{0}, other_client{0}, unknown{0};
};

// An address a name led to, and when its entry expires (whole seconds,
// rounded up: only purge looks at it).
struct NameAddr {
  IpAddr addr;
  uint32_t expiry_s = 0;
};
inline uint32_t to_seconds_up(Timestamp t) {
  if (t <= 0) return 0;
  return static_cast<uint32_t>(std::min<Timestamp>((t + kNsPerSec - 1) / kNsPerSec, UINT32_MAX));
}
struct NameAddrs {
  // Oldest first. A name usually leads to one address per scope: it stays
  // inline in the index's slot (a heap block per name cost more than the slot).
  absl::InlinedVector<NameAddr, 1> addrs;
};

struct alignas(64) NameShard {
  std::mutex mu;
  absl::flat_hash_map<uint64_t, NameAddrs> map;  // key: hash of (scope, qname)
  std::atomic<uint64_t> full{0};
};

namespace {

uint64_t addr_hash(const IpAddr& a) {
  return XXH3_64bits_withSeed(a.bytes.data(), a.bytes.size(), a.family);
}

uint64_t scope_hash(const ClientId& c) {
  if (c.kind == ClientId::Kind::Host)
    return XXH3_64bits_withSeed(c.mac.bytes.data(), c.mac.bytes.size(), 0x48);
  return addr_hash(c.addr);  // ClientId{}: the same as IpAddr{} before hosts existed
}

uint64_t name_key(const ClientId& scope, std::string_view qname) {
  return XXH3_64bits_withSeed(qname.data(), qname.size(), scope_hash(scope));
}

// With s.mu held exclusively: removes the soonest-expiring of kEvictSample
// consecutive entries in the table's (hash, so effectively random) order,
// starting where the previous sample ended. Exact while a shard holds no more
// than that, a close approximation beyond, and without an expiry index that
// would cost about as much memory as the entries themselves.
void evict_one(Shard& s) {
  auto it = s.map.end();
  if (s.map.size() > kEvictSample && s.has_cursor) it = s.map.find(s.evict_cursor);
  if (it == s.map.end()) it = s.map.begin();
  auto victim = it;
  for (size_t seen = 0; seen < kEvictSample && it != s.map.end(); ++seen, ++it)
    if (it->second.expiry < victim->second.expiry) victim = it;
  s.has_cursor = it != s.map.end();
  if (s.has_cursor) s.evict_cursor = it->first;  // not the victim: that one is behind
  if (victim != s.map.end()) s.map.erase(victim);
}

// With s.mu held exclusively: finds or creates the entry (evicting when the
// shard is full), raises its expiry, and returns it for the names to be updated.
Entry& upsert(Shard& s, size_t max, const Key& key, Timestamp expiry) {
  auto it = s.map.find(key);
  if (it == s.map.end()) {
    if (s.map.size() >= max) {
      evict_one(s);
      s.evictions.fetch_add(1, std::memory_order_relaxed);
    }
    it = s.map.try_emplace(key).first;
    it->second.expiry = expiry;
    s.inserts.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (expiry > it->second.expiry) it->second.expiry = expiry;
    s.refreshes.fetch_add(1, std::memory_order_relaxed);
  }
  return it->second;
}

void copy_name(std::string_view n, DnsName& out) {
  out.len = static_cast<uint16_t>(std::min(n.size(), DnsName::kCapacity));
  std::memcpy(out.data, n.data(), out.len);
  out.data[out.len] = '\0';
}

static_assert(DnsStateEntry::kMaxNames == kMaxNames);
static_assert(DnsStateEntry::kMaxNameBytes == DnsName::kCapacity);

}  // namespace
}  // namespace dns_cache_detail

using namespace dns_cache_detail;

const char* to_string(DnsLookupStatus s) {
  switch (s) {
    case DnsLookupStatus::Open:
      return "open";
    case DnsLookupStatus::Expired:
      return "expired";
    case DnsLookupStatus::OtherClient:
      return "other-client";
    case DnsLookupStatus::Unknown:
      return "unresolved";
  }
  return "?";
}

namespace {

// With `shards` = 0: at least kMinShards (lock spread), and as many more (up
// to twice that) as make each shard's bound ceil(max_entries / shards) just
// fit under a hash table's maximum load (7/8) of a power-of-two capacity, so
// a full cache's tables are ~7/8 full instead of just past a doubling (a
// round max_entries such as 1,000,000 over 64 shards would fill its tables
// to 0.48).
size_t choose_shards(uint32_t wanted, uint32_t max_entries) {
  constexpr size_t kMinShards = 64;
  if (wanted != 0) return wanted;
  double per_shard = static_cast<double>(max_entries) / kMinShards;
  // The largest power-of-two capacity whose 7/8 the 64 shards' bound reaches.
  size_t capacity = 8;
  while (static_cast<double>(capacity) * 2 * 7 / 8 <= per_shard) capacity *= 2;
  size_t fill = capacity * 7 / 8;
  size_t n = (size_t{max_entries} + fill - 1) / fill;
  return std::clamp<size_t>(n, kMinShards, 2 * kMinShards);
}

}  // namespace

DnsCache::DnsCache(const DnsCacheConfig& config) : config_(config) {
  size_t n = choose_shards(config_.shards, config_.max_entries);
  config_.shards = static_cast<uint32_t>(n);
  if (config_.max_ttl < config_.min_ttl) config_.max_ttl = config_.min_ttl;
  set_ttl_bounds(config_.min_ttl, config_.max_ttl, config_.grace);
  if (config_.max_addrs_per_name == 0) config_.max_addrs_per_name = 1;
  shard_count_ = n;
  per_shard_max_ = std::max<size_t>(1, (size_t{config_.max_entries} + n - 1) / n);
  per_name_shard_max_ = per_shard_max_;
  shards_ = std::make_unique<Shard[]>(n);
  name_shards_ = std::make_unique<NameShard[]>(n);
}

DnsCache::~DnsCache() = default;

Shard& DnsCache::shard_for(const IpAddr& addr) const {
  return shards_[addr_hash(addr) % shard_count_];
}

void DnsCache::set_ttl_bounds(uint32_t min_ttl, uint32_t max_ttl, uint32_t grace) {
  // A reader may see the old min with the new max (or the reverse) for a
  // moment; insert() clamps with max(min, max) so that mix stays defined.
  min_ttl_.store(min_ttl, std::memory_order_relaxed);
  max_ttl_.store(std::max(min_ttl, max_ttl), std::memory_order_relaxed);
  grace_.store(grace, std::memory_order_relaxed);
}

Timestamp DnsCache::removable_before(Timestamp now) const {
  return now -
         (Timestamp{grace_.load(std::memory_order_relaxed)} + config_.keep_expired) * kNsPerSec;
}

void DnsCache::insert(const ClientId& client, const IpAddr& addr,
                      std::span<const std::string> chain, uint32_t ttl_seconds, Timestamp now) {
  std::string_view views[kMaxNames * 4];
  size_t n = 0;
  // Keep the qname and the names nearest the address when a chain is very long.
  for (size_t i = 0; i < chain.size() && n < std::size(views); ++i) {
    size_t from_end = chain.size() - i;
    if (i == 0 || from_end < std::size(views)) views[n++] = chain[i];
  }
  insert(client, addr, std::span<const std::string_view>(views, n), ttl_seconds, now);
}

void DnsCache::insert(const ClientId& client, const IpAddr& addr,
                      std::span<const std::string_view> chain, uint32_t ttl_seconds,
                      Timestamp now) {
  Shard& s = shard_for(addr);
  if (addr.family == 0 || chain.empty() || chain[0].empty()) {
    s.rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint32_t lo = min_ttl_.load(std::memory_order_relaxed);
  const uint32_t ttl =
      std::clamp(ttl_seconds, lo, std::max(lo, max_ttl_.load(std::memory_order_relaxed)));
  Timestamp expiry = now + Timestamp{ttl} * kNsPerSec;
  ClientId scope = config_.scope_client ? client : ClientId{};
  {
    std::unique_lock lock(s.mu);
    upsert(s, per_shard_max_, Key{scope, addr}, expiry).names.add_chain(chain);
    if (config_.scope_client && !scope.none())
      upsert(s, per_shard_max_, Key{ClientId{}, addr}, expiry).names.add_chain(chain);
  }
  apply_name_cap(scope, addr, chain[0], expiry);
}

void DnsCache::apply_name_cap(const ClientId& scope, const IpAddr& addr, std::string_view qname,
                              Timestamp expiry) {
  uint64_t key = name_key(scope, qname);
  NameShard& ns = name_shards_[(key >> 32) % shard_count_];
  IpAddr dropped[4];
  size_t ndropped = 0;
  {
    std::lock_guard lock(ns.mu);
    auto it = ns.map.find(key);
    if (it == ns.map.end()) {
      if (ns.map.size() >= per_name_shard_max_) {
        ns.full.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      it = ns.map.try_emplace(key).first;
    }
    auto& v = it->second.addrs;
    uint32_t expiry_s = to_seconds_up(expiry);
    auto found =
        std::find_if(v.begin(), v.end(), [&](const NameAddr& p) { return p.addr == addr; });
    if (found != v.end()) {
      expiry_s = std::max(expiry_s, found->expiry_s);
      v.erase(found);
    }
    v.push_back(NameAddr{addr, expiry_s});
    while (v.size() > config_.max_addrs_per_name && ndropped < std::size(dropped)) {
      dropped[ndropped++] = v.front().addr;
      v.erase(v.begin());
    }
  }
  for (size_t i = 0; i < ndropped; ++i) {
    Shard& s = shard_for(dropped[i]);
    s.name_cap_drops.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lock(s.mu);
    auto drop = [&](const Key& k) {
      auto it = s.map.find(k);
      if (it == s.map.end()) return;
      it->second.names.remove(qname);
      if (!it->second.names.has_qname()) s.map.erase(it);
    };
    drop(Key{scope, dropped[i]});
    // The shadow too, or the client would be told OtherClient for its own dropped
    // address (another client with the same name then sees Unknown: reporting only).
    if (config_.scope_client && !scope.none()) drop(Key{ClientId{}, dropped[i]});
  }
}

DnsLookup DnsCache::lookup(const ClientId& client, const IpAddr& addr, Timestamp now) const {
  DnsLookup r;
  Shard& s = shard_for(addr);
  Timestamp grace = Timestamp{grace_.load(std::memory_order_relaxed)} * kNsPerSec;
  std::shared_lock lock(s.mu);
  auto own = s.map.find(Key{config_.scope_client ? client : ClientId{}, addr});
  if (own != s.map.end()) {
    const Entry& e = own->second;
    r.expiry = e.expiry;
    copy_name(e.names.primary(), r.name);
    if (now <= e.expiry + grace) {
      r.status = DnsLookupStatus::Open;
      r.in_grace = now > e.expiry;
      s.open.fetch_add(1, std::memory_order_relaxed);
      if (r.in_grace) s.grace.fetch_add(1, std::memory_order_relaxed);
    } else {
      r.status = DnsLookupStatus::Expired;
      s.expired.fetch_add(1, std::memory_order_relaxed);
    }
    return r;
  }
  if (config_.scope_client) {
    auto shadow = s.map.find(Key{ClientId{}, addr});
    if (shadow != s.map.end() && now <= shadow->second.expiry + grace) {
      r.status = DnsLookupStatus::OtherClient;
      r.expiry = shadow->second.expiry;
      copy_name(shadow->second.names.primary(), r.name);
      s.other_client.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
  }
  s.unknown.fetch_add(1, std::memory_order_relaxed);
  return r;
}

std::vector<std::string> DnsCache::names(const ClientId& client, const IpAddr& addr) const {
  std::vector<std::string> out;
  Shard& s = shard_for(addr);
  std::shared_lock lock(s.mu);
  auto it = s.map.find(Key{config_.scope_client ? client : ClientId{}, addr});
  if (it == s.map.end() && config_.scope_client) it = s.map.find(Key{ClientId{}, addr});
  if (it != s.map.end()) {
    it->second.names.each([&](std::string_view n, bool) {
      out.emplace_back(n);
      return true;
    });
  }
  return out;
}

namespace {

bool entry_matches(const Key& k, const Entry& e, const DnsCacheMatch& m) {
  if (m.addr.family != 0 && !(k.addr == m.addr)) return false;
  if (m.name.empty()) return true;
  bool found = false;
  e.names.each([&](std::string_view n, bool) { return !(found = n == m.name); });
  return found;
}

}  // namespace

std::vector<DnsCacheEntry> DnsCache::entries(const DnsCacheMatch& match, size_t limit) const {
  std::vector<DnsCacheEntry> out;
  auto visit = [&](const Shard& s) {
    std::shared_lock lock(s.mu);
    for (const auto& [k, e] : s.map) {
      if (out.size() >= limit) return;
      if (config_.scope_client && k.scope.none()) continue;  // a shadow
      if (!entry_matches(k, e, match)) continue;
      DnsCacheEntry d{k.scope, k.addr, e.expiry, {}};
      e.names.each([&](std::string_view n, bool) {
        d.names.emplace_back(n);
        return true;
      });
      out.push_back(std::move(d));
    }
  };
  if (match.addr.family != 0) {
    visit(shard_for(match.addr));
  } else {
    for (size_t i = 0; i < shard_count_ && out.size() < limit; ++i) visit(shards_[i]);
  }
  return out;
}

size_t DnsCache::flush(const DnsCacheMatch& match) {
  struct Gone {
    ClientId scope;
    IpAddr addr;
    std::vector<std::string> qnames;
  };
  std::vector<Gone> gone;
  size_t removed = 0;
  auto sweep = [&](Shard& s) {
    std::unique_lock lock(s.mu);
    for (auto it = s.map.begin(); it != s.map.end();) {
      if (!entry_matches(it->first, it->second, match)) {
        ++it;
        continue;
      }
      bool shadow = config_.scope_client && it->first.scope.none();
      if (!shadow) ++removed;
      Gone g{it->first.scope, it->first.addr, {}};
      it->second.names.each([&](std::string_view n, bool q) {
        if (q) g.qnames.emplace_back(n);
        return true;
      });
      gone.push_back(std::move(g));
      s.map.erase(it++);  // other iterators stay valid
    }
  };
  if (match.addr.family != 0) {
    sweep(shard_for(match.addr));
  } else {
    for (size_t i = 0; i < shard_count_; ++i) sweep(shards_[i]);
  }
  // The per-name index forgets these addresses: a name resolved again later
  // starts counting toward max_addrs_per_name afresh.
  for (const Gone& g : gone) {
    for (const std::string& q : g.qnames) {
      uint64_t key = name_key(g.scope, q);
      NameShard& ns = name_shards_[(key >> 32) % shard_count_];
      std::lock_guard lock(ns.mu);
      auto it = ns.map.find(key);
      if (it == ns.map.end()) continue;
      auto& v = it->second.addrs;
      v.erase(
          std::remove_if(v.begin(), v.end(), [&](const NameAddr& p) { return p.addr == g.addr; }),
          v.end());
      if (v.empty()) ns.map.erase(it);
    }
  }
  return removed;
}

size_t DnsCache::purge(Timestamp now) {
  Timestamp before = removable_before(now);
  size_t total = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    Shard& s = shards_[i];
    std::unique_lock lock(s.mu);
    size_t n = 0;
    for (auto it = s.map.begin(); it != s.map.end();) {
      if (it->second.expiry < before) {
        s.map.erase(it++);  // other iterators stay valid
        ++n;
      } else {
        ++it;
      }
    }
    s.purged.fetch_add(n, std::memory_order_relaxed);
    total += n;
  }
  for (size_t i = 0; i < shard_count_; ++i) {
    NameShard& ns = name_shards_[i];
    std::lock_guard lock(ns.mu);
    for (auto it = ns.map.begin(); it != ns.map.end();) {
      auto& v = it->second.addrs;
      v.erase(std::remove_if(
                  v.begin(), v.end(),
                  [&](const NameAddr& p) { return Timestamp{p.expiry_s} * kNsPerSec < before; }),
              v.end());
      if (v.empty()) {
        ns.map.erase(it++);
      } else {
        ++it;
      }
    }
  }
  return total;
}

size_t DnsCache::size() const {
  size_t n = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    std::shared_lock lock(shards_[i].mu);
    n += shards_[i].map.size();
  }
  return n;
}

size_t DnsCache::memory_bytes() const {
  size_t n = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    std::shared_lock lock(shards_[i].mu);
    const auto& map = shards_[i].map;
    n += map.capacity() *
         (sizeof(std::pair<const dns_cache_detail::Key, dns_cache_detail::Entry>) + 1);
    for (const auto& [key, entry] : map) {
      size_t len = 0;  // the packed block: 2 + per name 3 + its bytes
      entry.names.each([&](std::string_view name, bool) { return (len += 3 + name.size()), true; });
      if (len) n += len + 2;
    }
  }
  for (size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(name_shards_[i].mu);
    n += name_shards_[i].map.capacity() *
         (sizeof(std::pair<const uint64_t, dns_cache_detail::NameAddrs>) + 1);
  }
  return n;
}

DnsCacheStats DnsCache::stats() const {
  DnsCacheStats st;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  for (size_t i = 0; i < shard_count_; ++i) {
    const Shard& s = shards_[i];
    st.inserts += get(s.inserts);
    st.refreshes += get(s.refreshes);
    st.rejected += get(s.rejected);
    st.lookups_open += get(s.open);
    st.lookups_grace += get(s.grace);
    st.lookups_expired += get(s.expired);
    st.lookups_other_client += get(s.other_client);
    st.lookups_unknown += get(s.unknown);
    st.evictions += get(s.evictions);
    st.name_cap_drops += get(s.name_cap_drops);
    st.purged += get(s.purged);
    st.name_index_full += get(name_shards_[i].full);
  }
  st.entries = size();
  return st;
}

// ---- persistence ----
// The format is dns_state_file.h's: its writer builds the lines, its reader
// parses them; here only the file and the cache.

DnsCacheSaveResult DnsCache::save(const std::string& path, Timestamp now) const {
  DnsCacheSaveResult r;
  DnsStateFileWriter file(path);
  Timestamp before = removable_before(now);
  std::string buf;
  DnsStateWriter out(buf);
  out.header();
  for (size_t i = 0; i < shard_count_ && file.ok(); ++i) {
    {
      std::shared_lock lock(shards_[i].mu);
      for (const auto& [k, e] : shards_[i].map) {
        if (e.expiry < before) continue;
        out.begin(k.scope, k.addr, e.expiry);
        e.names.each([&](std::string_view n, bool q) {
          out.name(n, q);
          return true;
        });
        out.end();
        ++r.entries;
      }
    }
    file.write(buf);
    buf.clear();
  }
  if (!file.commit()) {
    r.error = file.error();
    r.refused = file.refused();
    r.entries = 0;
    return r;
  }
  r.ok = true;
  return r;
}

DnsCacheLoadResult DnsCache::load(const std::string& path, Timestamp now) {
  DnsCacheLoadResult r;
  BoundedFileRead file = read_regular_file(path, DnsStateReadResult::kMaxBytes);
  if (!file.ok) {
    r.missing = file.missing;
    r.error = file.error;
    return r;
  }
  return load_from_string(file.bytes, now, path);
}

DnsCacheLoadResult DnsCache::load_from_string(std::string_view text, Timestamp now,
                                              std::string_view name) {
  DnsStateReadOptions opts;
  opts.expired_before = removable_before(now);
  opts.latest = now + Timestamp{max_ttl_.load(std::memory_order_relaxed)} * kNsPerSec;
  opts.scope_client = config_.scope_client;
  opts.name = name;
  DnsStateReadResult read = DnsStateReader(opts).read(text, [&](const DnsStateEntry& entry) {
    Shard& s = shard_for(entry.addr);
    {
      std::unique_lock lock(s.mu);
      Entry& e = upsert(s, per_shard_max_, Key{entry.scope, entry.addr}, entry.expiry);
      for (size_t i = entry.names.size(); i-- > 0;)
        e.names.add(entry.names[i].name, entry.names[i].qname);
    }
    std::string_view qname;
    for (const auto& n : entry.names) {
      if (n.qname) {
        qname = n.name;
        break;
      }
    }
    // Shadow entries (global scope in client mode) are not indexed, as in insert().
    if (!entry.scope.none() || !config_.scope_client)
      apply_name_cap(entry.scope, entry.addr, qname, entry.expiry);
  });
  DnsCacheLoadResult r;
  r.ok = read.ok;
  r.error = std::move(read.error);
  r.loaded = read.loaded;
  r.expired = read.expired;
  r.skipped = read.skipped;
  r.corrupt = read.corrupt;
  r.warnings = std::move(read.warnings);
  return r;
}

}  // namespace tripline
