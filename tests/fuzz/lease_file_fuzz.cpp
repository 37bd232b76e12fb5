// Fuzzes the DHCP lease file parsers (dnsmasq, ISC dhcpd, Kea CSV) and the
// name table they feed: beyond "no crash, no read outside the text", every
// lease kept has an address, a valid host name and is the only one for its
// address, the counts stay within the bound, and the table then names each
// lease's address (and MAC) with a name some lease gave.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "client_names.h"
#include "lease_file.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "lease_file_fuzz: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tripline;
  // A copy of exactly `size` bytes, so ASan sees any read past the end.
  std::string text(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMax = 64;
  LeaseParse p = parse_leases(text, 1795000000, kMax);
  check(p.leases.size() <= kMax, "at most max_leases kept");
  check((p.malformed == 0) == (p.first_malformed == 0), "a malformed entry has a line");
  std::set<IpAddr> seen;
  std::set<std::string> names;
  for (const Lease& l : p.leases) {
    check(l.addr.is_v4() || l.addr.is_v6(), "a lease has an address");
    check(valid_lease_name(l.name), "a kept name is a host name");
    check(seen.insert(l.addr).second, "one lease per address");
    names.insert(l.name);
  }
  ClientNames table;
  table.replace(p.leases);
  check(table.size() == p.leases.size(), "the table names every lease's address");
  for (const Lease& l : p.leases) {
    auto by_addr = table.lookup(MacAddr{}, l.addr);
    check(by_addr && names.count(*by_addr), "a lease's address is named by a lease");
    if (l.mac.known()) {
      auto by_mac = table.lookup(l.mac, IpAddr{});
      check(by_mac && names.count(*by_mac), "a lease's MAC is named by a lease");
    }
  }
  return 0;
}
