#include "client_names.h"

#include <mutex>
#include <utility>

namespace tripline {

void ClientNames::replace(std::span<const Lease> leases) {
  auto maps = std::make_shared<Maps>();
  // One shared string per distinct name, so a host's leases share it.
  absl::flat_hash_map<std::string, Name> names;
  for (const Lease& l : leases) {
    Name& name = names[l.name];
    if (!name) name = std::make_shared<const std::string>(l.name);
    maps->by_addr[l.addr] = name;
    if (l.mac.known()) maps->by_mac[l.mac] = name;
  }
  std::shared_ptr<const Maps> old;  // freed after the lock is released
  std::unique_lock lock(mu_);
  old = std::exchange(maps_, std::move(maps));
}

ClientNames::Name ClientNames::find(const MacAddr& mac, const IpAddr& addr) const {
  std::shared_lock lock(mu_);
  if (mac.known())
    if (auto it = maps_->by_mac.find(mac); it != maps_->by_mac.end()) return it->second;
  if (auto it = maps_->by_addr.find(addr); it != maps_->by_addr.end()) return it->second;
  return nullptr;
}

std::optional<std::string> ClientNames::lookup(const MacAddr& mac, const IpAddr& addr) const {
  if (Name n = find(mac, addr)) return *n;
  return std::nullopt;
}

size_t ClientNames::size() const {
  std::shared_lock lock(mu_);
  return maps_->by_addr.size();
}

}  // namespace tripline
