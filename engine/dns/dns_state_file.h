// The DNS cache's state file, in one place: the format's writer the cache's
// save() builds its lines with and the reader its load() feeds the file's
// bytes to (both pure: bytes in memory, no files, no cache), and the file on
// disk (DnsStateFile: read bounded, replaced atomically, never a file that is
// not a state file, never through a link, mode 0600).
//
// Text, one entry per line after the header line "tripline-dns-cache 1":
//   <scope> <address> <expiry ns since epoch> <q|c>:<name> ...
// scope "*" is the global scope, else the client: its host's link-layer
// address (aa:bb:cc:dd:ee:ff) or its IP address; names most recent
// first, q: asked by the client, c: a CNAME target on its chain; name bytes
// outside '!'..'~' and '%' are written as %XX. Empty lines and lines starting
// with '#' are skipped; a trailing '\r' is ignored.
#pragma once

#include <absl/functional/function_ref.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client_id.h"
#include "ip_address.h"
#include "timestamp.h"

namespace tripline {

struct DnsStateName {
  std::string name;
  bool qname = false;  // asked by the client (else a CNAME target)
  friend bool operator==(const DnsStateName&, const DnsStateName&) = default;
};

struct DnsStateEntry {
  static constexpr size_t kMaxNames = 4;         // as the cache keeps per entry
  static constexpr size_t kMaxNameBytes = 1023;  // DnsName::kCapacity

  ClientId scope;  // ClientId{}: the global scope
  IpAddr addr;
  Timestamp expiry = 0;
  std::vector<DnsStateName> names;  // most recent first; 1..kMaxNames, at least one qname
  friend bool operator==(const DnsStateEntry&, const DnsStateEntry&) = default;
};

// Appends the format to `out`: header() once, then per entry begin(), its
// names, end(); or entry() for a whole one.
class DnsStateWriter {
 public:
  static constexpr std::string_view kHeader = "tripline-dns-cache 1";

  explicit DnsStateWriter(std::string& out) : out_(out) {}
  void header();
  void begin(const ClientId& scope, const IpAddr& addr, Timestamp expiry);
  void name(std::string_view name, bool qname);
  void end();
  void entry(const DnsStateEntry& e);

 private:
  std::string& out_;
};

struct DnsStateReadOptions {
  Timestamp expired_before = INT64_MIN;  // entries expiring earlier are counted `expired`
  Timestamp latest = INT64_MAX;          // later expiries are lowered to this
  bool scope_client = true;              // false: client-scoped entries are counted `skipped`
  std::string_view name = "<string>";    // the file, at the start of errors and warnings
};

struct DnsStateReadResult {
  static constexpr size_t kMaxWarnings = 20;
  static constexpr size_t kMaxBytes = size_t{512} << 20;  // larger input: an error

  bool ok = false;
  std::string error;  // whole-file problem: empty, no header, wrong version, too large
  // Entry lines (not empty, not comments) after the header; when ok,
  // records == loaded + expired + skipped + corrupt.
  size_t records = 0;
  size_t loaded = 0;                  // handed to the caller
  size_t expired = 0;                 // expiry before expired_before
  size_t skipped = 0;                 // client-scoped while scope_client is false
  size_t corrupt = 0;                 // lines that are not a valid entry
  std::vector<std::string> warnings;  // "name:line: reason" for the first corrupt lines
};

// Reads a whole state file. Never throws on bad bytes: a whole-file problem
// is `error` (and nothing is handed out), a bad line a counted corrupt record.
class DnsStateReader;

// ---- the file on disk ----

enum class DnsStateFileKind : uint8_t {
  Missing,  // nothing at the path
  Ours,     // a tripline DNS cache file of this version, or an empty regular file
  NotOurs,  // anything else: never overwritten
};

// What is at `path` now, and why it is not ours ("<path>: ...").
struct DnsStateFileCheck {
  DnsStateFileKind kind = DnsStateFileKind::Missing;
  std::string why;
};
DnsStateFileCheck check_dns_state_file(const std::string& path);

// Replaces the state file atomically: the new content goes to `path`.tmp,
// created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW; whatever had that name is
// unlinked first, a link never followed) with mode 0600, is fsynced, then
// renamed over `path` (and the folder fsynced). Refuses before writing
// anything when `path` holds something that is not ours (check above).
// Destroyed without commit(): the temporary file is removed.
class DnsStateFileWriter {
 public:
  explicit DnsStateFileWriter(std::string path);
  ~DnsStateFileWriter();
  DnsStateFileWriter(const DnsStateFileWriter&) = delete;
  DnsStateFileWriter& operator=(const DnsStateFileWriter&) = delete;

  bool ok() const { return error_.empty(); }
  bool refused() const { return refused_; }  // `path` is not ours: left as it was
  const std::string& error() const { return error_; }
  // Appends bytes to the temporary file; false (and error()) on failure.
  bool write(std::string_view bytes);
  // Makes the new file the state file; false (and error()) on failure.
  bool commit();

 private:
  void fail(const std::string& what, int err);

  std::string path_, tmp_;
  int fd_ = -1;
  bool refused_ = false;
  std::string error_;
};

class DnsStateReader {
 public:
  explicit DnsStateReader(const DnsStateReadOptions& opts = {}) : opts_(opts) {}

  // Calls on_entry for every valid, unexpired, not skipped entry in file order
  // (the entry is reused afterwards: copy what must be kept).
  DnsStateReadResult read(std::span<const uint8_t> bytes,
                          absl::FunctionRef<void(const DnsStateEntry&)> on_entry);
  DnsStateReadResult read(std::string_view text,
                          absl::FunctionRef<void(const DnsStateEntry&)> on_entry);
  // The same, keeping the entries.
  DnsStateReadResult read_all(std::span<const uint8_t> bytes, std::vector<DnsStateEntry>& out);

 private:
  DnsStateReadOptions opts_;
};

}  // namespace tripline
