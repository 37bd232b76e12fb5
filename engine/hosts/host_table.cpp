#include "host_table.h"

#include <absl/hash/hash.h>

#include <algorithm>
#include <mutex>

namespace tripline {

bool OnLinkPrefix::contains(const IpAddr& a) const {
  if (a.family != net.family || net.family == 0) return false;
  size_t bits = std::min<size_t>(length, a.size() * 8);
  size_t full = bits / 8;
  if (std::memcmp(a.bytes.data(), net.bytes.data(), full) != 0) return false;
  if (bits % 8 == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
  return (a.bytes[full] & mask) == (net.bytes[full] & mask);
}

HostTable::HostTable(const HostTableConfig& config)
    : config_(config),
      per_shard_max_(std::max<size_t>(1, (size_t{config.max_entries} + kShards - 1) / kShards)),
      shards_(std::make_unique<Shard[]>(kShards)) {}

HostTable::~HostTable() = default;

HostTable::Shard& HostTable::shard_for(const IpAddr& addr) const {
  return shards_[absl::HashOf(addr) % kShards];
}

void HostTable::set(const IpAddr& addr, const MacAddr& mac, uint32_t ifindex) {
  if (addr.family == 0 || !mac.known()) return;
  Shard& s = shard_for(addr);
  std::unique_lock lock(s.mu);
  auto it = s.map.find(addr);
  if (it == s.map.end()) {
    if (s.map.size() >= per_shard_max_) {
      full_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    it = s.map.try_emplace(addr).first;
  }
  it->second = Entry{mac, ifindex};
  updates_.fetch_add(1, std::memory_order_relaxed);
}

void HostTable::remove(const IpAddr& addr, uint32_t ifindex) {
  Shard& s = shard_for(addr);
  std::unique_lock lock(s.mu);
  auto it = s.map.find(addr);
  // The same address on another interface is another neighbour entry.
  if (it == s.map.end() || (ifindex != 0 && it->second.ifindex != ifindex)) return;
  s.map.erase(it);
  removals_.fetch_add(1, std::memory_order_relaxed);
}

void HostTable::clear() {
  for (size_t i = 0; i < kShards; ++i) {
    std::unique_lock lock(shards_[i].mu);
    shards_[i].map.clear();
  }
}

std::optional<MacAddr> HostTable::find(const IpAddr& addr) const {
  Shard& s = shard_for(addr);
  std::shared_lock lock(s.mu);
  auto it = s.map.find(addr);
  if (it == s.map.end()) return std::nullopt;
  return it->second.mac;
}

void HostTable::set_prefixes(std::span<const OnLinkPrefix> prefixes) {
  std::unique_lock lock(prefix_mu_);
  prefix_count_ = std::min(prefixes.size(), kMaxPrefixes);
  std::copy_n(prefixes.begin(), prefix_count_, prefixes_.begin());
}

std::vector<OnLinkPrefix> HostTable::prefixes() const {
  std::shared_lock lock(prefix_mu_);
  return {prefixes_.begin(), prefixes_.begin() + prefix_count_};
}

bool HostTable::on_link(const IpAddr& addr, uint32_t ifindex) const {
  if (config_.all_on_link) return true;
  std::shared_lock lock(prefix_mu_);
  for (size_t i = 0; i < prefix_count_; ++i) {
    const OnLinkPrefix& p = prefixes_[i];
    if ((ifindex == 0 || p.ifindex == 0 || p.ifindex == ifindex) && p.contains(addr)) return true;
  }
  return false;
}

ClientId HostTable::identify(const IpAddr& src, const MacAddr& mac, uint32_t in_ifindex) const {
  if (!config_.by_host) return ClientId::address(src);
  if (auto known = find(src)) {
    by_neighbour_.fetch_add(1, std::memory_order_relaxed);
    return ClientId::host(*known);
  }
  if (mac.known() && on_link(src, in_ifindex)) {
    by_packet_.fetch_add(1, std::memory_order_relaxed);
    return ClientId::host(mac);
  }
  by_address_.fetch_add(1, std::memory_order_relaxed);
  return ClientId::address(src);
}

size_t HostTable::size() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::shared_lock lock(shards_[i].mu);
    n += shards_[i].map.size();
  }
  return n;
}

HostTableStats HostTable::stats() const {
  HostTableStats st;
  st.entries = size();
  st.updates = updates_.load(std::memory_order_relaxed);
  st.removals = removals_.load(std::memory_order_relaxed);
  st.full = full_.load(std::memory_order_relaxed);
  {
    std::shared_lock lock(prefix_mu_);
    st.prefixes = prefix_count_;
  }
  st.by_neighbour = by_neighbour_.load(std::memory_order_relaxed);
  st.by_packet = by_packet_.load(std::memory_order_relaxed);
  st.by_address = by_address_.load(std::memory_order_relaxed);
  return st;
}

}  // namespace tripline
