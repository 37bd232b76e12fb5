// Fuzzes decode(): the first input byte picks the link type (modulo the number
// of link types), the rest is the frame. Beyond "no crash, no over-read", it
// checks that every span lies inside the input and the result is consistent.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "decode.h"

namespace {

constexpr tripline::LinkType kLinks[] = {
    tripline::LinkType::Raw,       tripline::LinkType::Ethernet, tripline::LinkType::LinuxSll,
    tripline::LinkType::LinuxSll2, tripline::LinkType::Null,
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "decode_fuzz: invariant violated: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

bool inside(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tripline::DecodeError;
  if (size == 0) return 0;
  tripline::LinkType link = kLinks[data[0] % (sizeof(kLinks) / sizeof(kLinks[0]))];
  std::span<const uint8_t> frame(data + 1, size - 1);
  tripline::Decoded d;
  DecodeError err = tripline::decode(link, frame, d);

  check(static_cast<size_t>(err) < static_cast<size_t>(DecodeError::kCount), "error in range");
  check(tripline::to_string(err) != nullptr, "error has a name");
  if (err != DecodeError::None) {
    check(d.ip.empty() && d.l4.empty() && d.payload.empty(), "no spans on error");
    return 0;
  }
  check(d.ip_version == 4 || d.ip_version == 6, "ip version");
  check(d.src.family == d.ip_version && d.dst.family == d.ip_version, "address family");
  check(inside(d.ip, frame), "ip inside input");
  check(inside(d.l4, d.ip), "l4 inside ip");
  check(inside(d.payload, d.ip), "payload inside ip");
  check(d.l4.empty() || inside(d.payload, d.l4), "payload inside l4");
  check(d.ip_len >= d.ip.size(), "ip_len covers the captured packet");
  check(d.ip.size() >= (d.ip_version == 4 ? 20u : 40u), "ip holds the fixed header");
  check(d.is_fragment == (d.more_fragments || d.frag_offset != 0), "fragment flags");
  if (d.frag_offset != 0) check(!d.has_ports && d.l4.empty(), "non-first fragment has no l4");
  if (!d.has_ports) check(d.sport == 0 && d.dport == 0, "no ports without a header");
  if (d.has_ports && (d.proto == 6 || d.proto == 17))
    check(d.l4.size() >= (d.proto == 6 ? 20u : 8u), "l4 holds its header");
  return 0;
}
