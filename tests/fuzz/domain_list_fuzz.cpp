// Fuzzes the block/allow list reader (hosts files, one name per line, Adblock
// ||name^) and the matcher. Beyond "no crash", it checks the report adds up and
// that every name the reader accepted matches itself and its subdomains.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "domain_set.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "domain_list_fuzz: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tripline;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (DomainListKind kind : {DomainListKind::Block, DomainListKind::Allow}) {
    DomainSet set(kind);
    DomainListReport report;
    set.load_text(text, "fuzz.txt", "blocklist", report);
    check(report.warnings.size() <= DomainListReport::kMaxWarnings, "warnings bounded");
    check(report.added + report.exceptions <= report.lines + 1, "no more names than lines");
    check(set.size() == report.added, "set size is what was added");
    // Every line is also tried as a name to match, and as a parent of one.
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      auto m = set.find(line);
      if (m) check(m.suffix_start <= line.size(), "suffix inside the name");
      std::string child = "x." + std::string(line);
      set.match(child);
      start = end + 1;
    }
    // A name added directly matches itself and its subdomains, unless an exception covers it.
    if (size > 0 && set.add(text, "blocklist:direct")) {
      if (set.exception_count() == 0) {
        check(set.match(text).has_value(), "an added name matches");
        check(set.match("sub." + std::string(text)).has_value(), "its subdomain matches");
      }
    }
  }
  return 0;
}
