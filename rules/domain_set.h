// Domain suffix sets built from the block/allow lists people already have: hosts
// files, one name per line, and the Adblock subset ||name^ (@@||name^ exceptions).
// A listed name matches itself and every subdomain; a match costs O(labels).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tripline {

enum class DomainListKind : uint8_t {
  Block,  // plain/hosts/||name^ entries block; @@||name^ entries are exceptions
  Allow,  // every entry, @@||name^ included, allows
};

// A list file larger than this is refused (a million names take about 30 MB).
inline constexpr size_t kMaxDomainListBytes = size_t{256} << 20;

// A list file that cannot be read: missing, not a regular file (a FIFO or a
// device such as /dev/zero is refused at once), or larger than
// kMaxDomainListBytes. Bad lines never throw: they are reported.
class DomainListError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DomainListReport {
  size_t lines = 0;
  size_t added = 0;        // names new to the set
  size_t exceptions = 0;   // @@ names new to a Block set's exceptions
  size_t duplicates = 0;   // already present (the first list keeps it)
  size_t localhost = 0;    // hosts-file housekeeping names skipped (localhost, broadcasthost...)
  size_t invalid = 0;      // not a valid name / unrecognised line
  size_t unsupported = 0;  // Adblock rules beyond ||name^ (paths, options, cosmetic rules...)
  static constexpr size_t kMaxWarnings = 100;
  std::vector<std::string> warnings;  // "file:line: reason: text", the first kMaxWarnings
  size_t warnings_dropped = 0;
};

struct DomainMatch {
  const std::string* label = nullptr;  // "<prefix>:<file name>"; null: no match
  size_t suffix_start = 0;             // the listed suffix is name.substr(suffix_start)
  explicit operator bool() const { return label != nullptr; }
};

// Built once (load_*), then read-only: match() is safe from any number of threads.
//
// Storage: each listed name is kept only as XXH3-64 of its normalised text, mapped
// to the index of the list it came from (no strings: ~36 MB per million names).
// A lookup hashes every suffix of the name that starts at a label. A false match
// needs a 64-bit collision: with N names and L labels per lookup the chance is about
// L*N/2^64 (~3e-13 per lookup for a million names), accepted instead of verifying.
class DomainSet {
 public:
  explicit DomainSet(DomainListKind kind = DomainListKind::Block) : kind_(kind) {}

  DomainListKind kind() const { return kind_; }

  // Reads one list file; its entries are labelled "<prefix>:<file name>".
  // Throws DomainListError if the file cannot be read (see DomainListError).
  void load_file(const std::string& path, std::string_view prefix, DomainListReport& report);
  // Same from memory; `source` stands for the file (label and warnings).
  void load_text(std::string_view text, std::string_view source, std::string_view prefix,
                 DomainListReport& report);

  // Adds one name (any case, optional trailing dot) under a label; false if the
  // name is invalid or already present.
  bool add(std::string_view name, std::string_view label, bool exception = false);

  // The label of the list holding the name or its nearest listed parent, unless
  // an exception covers the name (or a parent). Never allocates. Accepts any
  // case and a trailing dot; escaped presentation names (\.) are split correctly.
  std::optional<std::string_view> match(std::string_view name) const;
  DomainMatch find(std::string_view name) const;

  size_t size() const { return names_.size(); }
  size_t exception_count() const { return exceptions_.size(); }
  const std::deque<std::string>& labels() const { return labels_; }
  // The same for two sets holding the same names under the same labels
  // (whatever the order they were added in); differs, but for a 64-bit
  // collision, when a name, an exception or a label differs. A reload tells
  // from it whether a list file's content changed.
  uint64_t fingerprint() const;

 private:
  uint16_t label_index(std::string_view label);
  bool insert_normalised(std::string_view name, uint16_t label, bool exception);

  DomainListKind kind_;
  absl::flat_hash_map<uint64_t, uint16_t> names_;       // hash of name -> label index
  absl::flat_hash_map<uint64_t, uint16_t> exceptions_;  // @@ names of a Block set
  std::deque<std::string> labels_;                      // deque: string_views handed out stay valid
};

// The pipeline's entry point: one set from several list files. Without a report,
// warnings and a summary per file go to the log (spdlog). Throws DomainListError.
std::unique_ptr<DomainSet> load_domain_lists(const std::vector<std::string>& files,
                                             std::string_view prefix, DomainListKind kind,
                                             DomainListReport* report = nullptr);
// Kind from the prefix: "allowlist" gives an Allow set, anything else Block.
std::unique_ptr<DomainSet> load_domain_lists(const std::vector<std::string>& files,
                                             std::string_view prefix,
                                             DomainListReport* report = nullptr);

}  // namespace tripline
