// Fuzzes the rtnetlink neighbour message parser (what the kernel's neighbour
// table dump and events are read with) and the host table it feeds: beyond
// "no crash, no read outside the message", a Set names a host and an address,
// and applying it makes the table identify that address as that host.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "host_table.h"
#include "neighbour_message.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "neighbour_message_fuzz: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tripline;
  // A copy of exactly `size` bytes, so ASan sees any read past the end.
  std::vector<uint8_t> msg(data, data + size);
  NeighbourUpdate u = parse_neighbour_message(msg);
  HostTable table(HostTableConfig{});
  switch (u.op) {
    case NeighbourUpdate::Op::Set:
      check(u.mac.known(), "a set names a link-layer address");
      check(u.addr.is_v4() || u.addr.is_v6(), "a set names an address");
      table.set(u.addr, u.mac, u.ifindex);
      check(table.identify(u.addr, MacAddr{}, 0) == ClientId::host(u.mac), "set -> host");
      table.remove(u.addr, u.ifindex);
      check(table.size() == 0, "remove undoes set");
      break;
    case NeighbourUpdate::Op::Remove:
      check(u.addr.is_v4() || u.addr.is_v6(), "a removal names an address");
      break;
    case NeighbourUpdate::Op::Ignore:
      break;
  }
  return 0;
}
