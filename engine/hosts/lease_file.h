// DHCP lease files as the servers write them: dnsmasq (dhcp-leasefile), ISC
// dhcpd (dhcpd.leases) and Kea (memfile CSV, v4 and v6). Pure parsing of
// untrusted text (fuzzed): which address and link-layer address a host name
// was leased to. Client names only; nothing here decides traffic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client_id.h"
#include "ip_address.h"

namespace tripline {

enum class LeaseFormat : uint8_t { Unknown, Dnsmasq, IscDhcpd, Kea };
// "unknown", "dnsmasq", "isc-dhcpd", "kea"
const char* to_string(LeaseFormat f);

struct Lease {
  IpAddr addr;
  MacAddr mac;  // zeros: the file gives none (dnsmasq and Kea IPv6 leases name a DUID)
  std::string name;
};

struct LeaseParse {
  LeaseFormat format = LeaseFormat::Unknown;
  std::vector<Lease> leases;   // active, named, one per address (the file's last word on it)
  size_t malformed = 0;        // lines (dnsmasq, Kea) or lease blocks (ISC) not understood
  size_t first_malformed = 0;  // its line number (1-based), 0 when none
  size_t inactive = 0;         // expired, released, free or declined leases
  size_t invalid_names = 0;    // a name that is not a host name (left unnamed)
  size_t over_limit = 0;       // leases past max_leases (left out)
};

// Host names as events and scripts see them: 1..253 bytes of letters,
// digits, '-', '_' and '.', a trailing '.' removed; anything else is no name.
bool valid_lease_name(std::string_view name);

// Parses a lease file of any of the three formats (told apart by their first
// line that is not blank or a comment). `now` (seconds since the epoch)
// decides which leases have expired. At most max_leases are kept.
LeaseParse parse_leases(std::string_view text, int64_t now, size_t max_leases = 65536);

}  // namespace tripline
