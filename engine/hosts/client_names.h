// Client names from DHCP leases: who a host is called (by its link-layer
// address, else by its IP address). Filled by LeaseMonitor; read by the
// policy stage once per new flow (and by the control socket), never per packet.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>

#include "client_id.h"
#include "ip_address.h"
#include "lease_file.h"

namespace tripline {

// Thread-safe. A lookup takes a shared lock and copies a shared pointer (no
// allocation); replace() builds the new maps first and swaps them in.
class ClientNames {
 public:
  using Name = std::shared_ptr<const std::string>;

  // The names from these leases replace all earlier ones. When two leases
  // name one link-layer address, the later in the span wins.
  void replace(std::span<const Lease> leases);

  // The name of the client with link-layer address mac (zeros: not known)
  // sending from addr: by mac when a lease names it, else by addr; null
  // when neither is named.
  Name find(const MacAddr& mac, const IpAddr& addr) const;
  // The same as text (for the control socket); nullopt when unnamed.
  std::optional<std::string> lookup(const MacAddr& mac, const IpAddr& addr) const;

  size_t size() const;  // named addresses

 private:
  struct Maps {
    absl::flat_hash_map<MacAddr, Name> by_mac;
    absl::flat_hash_map<IpAddr, Name> by_addr;
  };
  mutable std::shared_mutex mu_;
  std::shared_ptr<const Maps> maps_ = std::make_shared<Maps>();
};

}  // namespace tripline
