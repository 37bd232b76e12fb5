// Fuzzes the DNS cache state-file reader (dns_state_file.h) on arbitrary bytes.
// Beyond "no crash": the counts add up, what it hands out is well formed and
// reads back the same after a round trip through the writer, and the cache
// loading the same bytes reports the same counts and stays within its bound.
// The seeds (corpus/dns_state_file/) assume "now" is kNow.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns_cache.h"
#include "dns_state_file.h"

namespace {

using namespace tripline;

constexpr Timestamp kNow = 1'700'000'000LL * kNsPerSec;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_state_file_fuzz: invariant violated: %s\n", what);
  std::abort();
}

void check_result(const DnsStateReadResult& r, const std::vector<DnsStateEntry>& entries,
                  const DnsStateReadOptions& opts) {
  check(r.warnings.size() <= DnsStateReadResult::kMaxWarnings, "warnings bounded");
  if (!r.ok) {
    check(!r.error.empty(), "a failed read says why");
    check(entries.empty() && r.loaded == 0 && r.records == 0, "a failed read hands out nothing");
    return;
  }
  check(r.error.empty(), "no error when ok");
  check(r.records == r.loaded + r.expired + r.skipped + r.corrupt,
        "records = loaded + expired + skipped + corrupt");
  check(r.loaded == entries.size(), "loaded = entries handed out");
  check(r.warnings.size() == std::min(r.corrupt, DnsStateReadResult::kMaxWarnings),
        "one warning per corrupt record, up to the bound");
  for (const DnsStateEntry& e : entries) {
    check(e.addr.family == 4 || e.addr.family == 6, "an address");
    check(opts.scope_client || e.scope.none(), "client scope only when asked");
    check(e.expiry > 0 && e.expiry >= opts.expired_before && e.expiry <= opts.latest,
          "expiry within the options' bounds");
    check(!e.names.empty() && e.names.size() <= DnsStateEntry::kMaxNames, "1..4 names");
    bool any_q = false;
    for (const auto& n : e.names) {
      check(!n.name.empty() && n.name.size() <= DnsStateEntry::kMaxNameBytes, "name length");
      any_q |= n.qname;
    }
    check(any_q, "a qname");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);

  // As the cache reads it (client scope, now = kNow, grace 30 s, max_ttl 1 h)...
  DnsCacheConfig conf;
  conf.scope_client = size % 2 == 0;
  conf.max_ttl = 3600;
  conf.max_entries = 64;
  conf.shards = 2;
  DnsStateReadOptions opts;
  opts.expired_before = kNow - Timestamp{conf.grace + conf.keep_expired} * kNsPerSec;
  opts.latest = kNow + Timestamp{conf.max_ttl} * kNsPerSec;
  opts.scope_client = conf.scope_client;
  opts.name = "fuzz";
  std::vector<DnsStateEntry> entries;
  DnsStateReadResult r = DnsStateReader(opts).read_all(bytes, entries);
  check_result(r, entries, opts);

  // ...the cache itself agrees on the counts and keeps to its bound.
  DnsCache cache(conf);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  DnsCacheLoadResult c = cache.load_from_string(text, kNow, "fuzz");
  check(c.ok == r.ok && c.loaded == r.loaded && c.expired == r.expired && c.skipped == r.skipped &&
            c.corrupt == r.corrupt && c.warnings == r.warnings,
        "the cache's load reports what the reader read");
  check(cache.size() <= conf.max_entries, "the cache stays within max_entries");

  // Without expiry or clamping, what was read survives the writer unchanged.
  DnsStateReadOptions plain;
  std::vector<DnsStateEntry> all;
  DnsStateReadResult p = DnsStateReader(plain).read_all(bytes, all);
  check_result(p, all, plain);
  if (!p.ok) return 0;
  std::string again;
  DnsStateWriter w(again);
  w.header();
  for (const auto& e : all) w.entry(e);
  std::vector<DnsStateEntry> reread;
  DnsStateReadResult q = DnsStateReader(plain).read_all(
      {reinterpret_cast<const uint8_t*>(again.data()), again.size()}, reread);
  check(q.ok && q.corrupt == 0 && q.records == all.size(), "the writer's output reads cleanly");
  check(reread == all, "entries survive a write and a read");
  return 0;
}
