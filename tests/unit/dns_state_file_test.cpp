#include "dns_state_file.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "dns_cache.h"
#include "run_bounded.h"

namespace tripline {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
constexpr Timestamp T0 = 1'700'000'000LL * kNsPerSec;
Timestamp at(int64_t s) { return T0 + s * kNsPerSec; }

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Read {
  DnsStateReadResult result;
  std::vector<DnsStateEntry> entries;
};

Read read(std::string_view text, DnsStateReadOptions opts = {}) {
  Read r;
  opts.name = "state";
  r.result = DnsStateReader(opts).read_all(bytes_of(text), r.entries);
  return r;
}

// Whatever the input: the counts add up and what came out is well formed.
void expect_consistent(const Read& r, const DnsStateReadOptions& opts = {}) {
  if (!r.result.ok) {
    EXPECT_FALSE(r.result.error.empty());
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(r.result.loaded, 0u);
    return;
  }
  const DnsStateReadResult& c = r.result;
  EXPECT_EQ(c.records, c.loaded + c.expired + c.skipped + c.corrupt);
  EXPECT_EQ(c.loaded, r.entries.size());
  EXPECT_EQ(c.warnings.size(), std::min(c.corrupt, DnsStateReadResult::kMaxWarnings));
  for (const DnsStateEntry& e : r.entries) {
    EXPECT_NE(e.addr.family, 0);
    EXPECT_TRUE(opts.scope_client || e.scope.none());
    EXPECT_GT(e.expiry, 0);
    EXPECT_GE(e.expiry, opts.expired_before);
    EXPECT_LE(e.expiry, opts.latest);
    EXPECT_GE(e.names.size(), 1u);
    EXPECT_LE(e.names.size(), DnsStateEntry::kMaxNames);
    bool any_q = false;
    for (const auto& n : e.names) {
      EXPECT_FALSE(n.name.empty());
      EXPECT_LE(n.name.size(), DnsStateEntry::kMaxNameBytes);
      any_q |= n.qname;
    }
    EXPECT_TRUE(any_q);
  }
}

std::vector<DnsStateEntry> sample_entries() {
  std::string every_byte;
  for (int c = 1; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  return {
      {ClientId{}, ip("192.0.2.1"), at(600), {{"www.example.com", true}, {"edge.cdn.net", false}}},
      {ClientId::address(ip("10.0.0.1")), ip("192.0.2.1"), at(600), {{"www.example.com", true}}},
      {ClientId::address(ip("10.0.0.2")), ip("2001:db8::7"), at(3600), {{"v6.example.com", true}}},
      {ClientId::address(ip("fe80::1")), ip("::ffff:192.0.2.8"), 1, {{"a", true}}},
      {ClientId{}, ip("198.51.100.9"), INT64_MAX, {{"we ird%name\x01", true}, {every_byte, false}}},
      {ClientId{},
       ip("203.0.113.5"),
       at(1),
       {{"d.example", false}, {"c.example", true}, {"b.example", false}, {"a.example", true}}},
      {ClientId{}, ip("203.0.113.6"), at(2), {{std::string(1023, 'x'), true}}},
  };
}

std::string write(const std::vector<DnsStateEntry>& entries) {
  std::string text;
  DnsStateWriter w(text);
  w.header();
  for (const auto& e : entries) w.entry(e);
  return text;
}

TEST(DnsStateFile, RoundTripWithTheWriter) {
  auto entries = sample_entries();
  std::string text = write(entries);
  EXPECT_EQ(text.rfind("tripline-dns-cache 1\n* 192.0.2.1 ", 0), 0u) << text;
  Read r = read(text);
  ASSERT_TRUE(r.result.ok) << r.result.error;
  EXPECT_EQ(r.result.records, entries.size());
  EXPECT_EQ(r.result.loaded, entries.size());
  EXPECT_EQ(r.result.corrupt, 0u);
  EXPECT_TRUE(r.result.warnings.empty());
  EXPECT_EQ(r.entries, entries);
  expect_consistent(r);
  // A header alone is a valid, empty file.
  r = read("tripline-dns-cache 1\n");
  ASSERT_TRUE(r.result.ok);
  EXPECT_EQ(r.result.records, 0u);
}

// The cache's save() writes through DnsStateWriter; its file reads back to
// the entries the cache holds.
TEST(DnsStateFile, RoundTripWithTheCacheSave) {
  std::string path = ::testing::TempDir() + "/dns_state_file_test." + std::to_string(getpid());
  DnsCacheConfig conf;
  conf.scope_client = true;
  conf.max_ttl = 3600;
  DnsCache cache(conf);
  std::vector<std::string_view> chain = {"www.example.com", "edge.cdn.net"};
  cache.insert(ip("10.0.0.1"), ip("192.0.2.1"), chain, 600, at(0));
  std::vector<std::string_view> v6 = {"v6.example.com"};
  cache.insert(ip("10.0.0.2"), ip("2001:db8::7"), v6, 3600, at(0));
  ASSERT_TRUE(cache.save(path, at(1)).ok);
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);

  Read r = read(text);
  ASSERT_TRUE(r.result.ok) << r.result.error;
  EXPECT_EQ(r.result.loaded, 4u);  // two client entries and their global shadows
  EXPECT_EQ(r.result.corrupt, 0u);
  for (const DnsStateEntry& e : r.entries) {
    std::vector<std::string> names;
    for (const auto& n : e.names) names.push_back(n.name);
    EXPECT_EQ(names,
              cache.names(e.scope.none() ? ClientId::address(ip("10.9.9.9")) : e.scope, e.addr));
    EXPECT_EQ(e.expiry, e.addr == ip("192.0.2.1") ? at(600) : at(3600));
    EXPECT_TRUE(e.names[0].qname);
  }
  // And the writer alone writes the same bytes for what was read.
  EXPECT_EQ(write(r.entries), text);
}

TEST(DnsStateFile, OptionsExpireClampAndSkip) {
  std::string text = write(sample_entries());
  DnsStateReadOptions opts;
  opts.expired_before = at(500);
  opts.latest = at(1000);
  Read r = read(text, opts);
  ASSERT_TRUE(r.result.ok);
  EXPECT_EQ(r.result.expired, 3u);  // expiries 1, at(1), at(2)
  EXPECT_EQ(r.result.loaded, 4u);
  for (const auto& e : r.entries) EXPECT_LE(e.expiry, at(1000));
  EXPECT_EQ(r.entries[3].expiry, at(1000));  // INT64_MAX, clamped
  expect_consistent(r, opts);

  opts = {};
  opts.scope_client = false;
  r = read(text, opts);
  ASSERT_TRUE(r.result.ok);
  EXPECT_EQ(r.result.skipped, 3u);
  EXPECT_EQ(r.result.loaded, 4u);
  expect_consistent(r, opts);
}

TEST(DnsStateFile, BadMagicOrVersionIsAClearErrorAndHandsOutNothing) {
  const std::string entry = "* 192.0.2.1 " + std::to_string(at(600)) + " q:x.example\n";
  for (std::string text : {
           std::string(),
           std::string("\n"),
           "tripline-dns-cache 2\n" + entry,
           "tripline-dns-cache 10\n" + entry,
           "tripline-dns-cache\n" + entry,
           "tripline-dns-cache 1 \n" + entry,
           "TRIPLINE-DNS-CACHE 1\n" + entry,
           entry,
           std::string("\xd4\xc3\xb2\xa1\x02\x00\x04\x00", 8),  // a pcap
           std::string("tripline-dns-cache 1\0\n", 22) + entry,
       }) {
    SCOPED_TRACE(testing::PrintToString(text));
    size_t calls = 0;
    DnsStateReadOptions opts;
    opts.name = "state";
    DnsStateReadResult r =
        DnsStateReader(opts).read(bytes_of(text), [&](const DnsStateEntry&) { ++calls; });
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.rfind("state:", 0), 0u) << r.error;
    EXPECT_EQ(calls, 0u);
    EXPECT_EQ(r.records, 0u);
  }
  // CRLF line ends are fine.
  Read r = read("tripline-dns-cache 1\r\n" + entry.substr(0, entry.size() - 1) + "\r\n");
  ASSERT_TRUE(r.result.ok) << r.result.error;
  EXPECT_EQ(r.result.loaded, 1u);
}

TEST(DnsStateFile, CorruptRecordsAreCountedWithTheirLine) {
  const std::string exp = std::to_string(at(600));
  const std::string long_name(1024, 'n');
  const std::vector<std::string> lines = {
      std::string("garbage"),
      "* 192.0.2.1 " + exp,                           // no names
      "* 300.0.0.1 " + exp + " q:a",                  // bad address
      "nope 192.0.2.1 " + exp + " q:a",               // bad scope
      "* 192.0.2.1 12x q:a",                          // bad expiry
      "* 192.0.2.1 -5 q:a",                           // negative
      "* 192.0.2.1 0 q:a",                            // zero
      "* 192.0.2.1 99999999999999999999999 q:a",      // past int64
      "* 192.0.2.1 " + exp + " x:a",                  // neither q: nor c:
      "* 192.0.2.1 " + exp + " c:only.cname",         // no qname
      "* 192.0.2.1 " + exp + " q:bad%zz",             // bad escape
      "* 192.0.2.1 " + exp + " q:bad%4",              // cut escape
      "* 192.0.2.1 " + exp + " q:",                   // empty name
      "* 192.0.2.1 " + exp + " q:" + long_name,       // longer than a cached name
      "* 192.0.2.1 " + exp + " q:a c:b c:c c:d c:e",  // more names than an entry keeps
      "*\t192.0.2.1\t" + exp + "\tq:a",               // tabs do not separate
  };
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    Read r = read("tripline-dns-cache 1\n# a comment\n\n" + line + "\n");
    ASSERT_TRUE(r.result.ok) << r.result.error;
    EXPECT_EQ(r.result.records, 1u);
    EXPECT_EQ(r.result.corrupt, 1u);
    EXPECT_EQ(r.result.loaded, 0u);
    ASSERT_EQ(r.result.warnings.size(), 1u);
    EXPECT_EQ(r.result.warnings[0].rfind("state:4:", 0), 0u) << r.result.warnings[0];
  }
  // The largest name, and exactly four names, are fine; so are extra spaces.
  Read r = read("tripline-dns-cache 1\n*  192.0.2.1 " + exp + " q:" + std::string(1023, 'n') +
                "  c:b c:c c:d \n");
  ASSERT_TRUE(r.result.ok);
  EXPECT_EQ(r.result.loaded, 1u);
  EXPECT_EQ(r.result.corrupt, 0u);
}

TEST(DnsStateFile, WarningsAreBoundedCountsAreNot) {
  std::string text = "tripline-dns-cache 1\n";
  for (int i = 0; i < 1000; ++i) text += "bad line\n";
  text += "* 192.0.2.1 " + std::to_string(at(600)) + " q:ok.example\n";
  Read r = read(text);
  ASSERT_TRUE(r.result.ok);
  EXPECT_EQ(r.result.corrupt, 1000u);
  EXPECT_EQ(r.result.loaded, 1u);
  EXPECT_EQ(r.result.warnings.size(), DnsStateReadResult::kMaxWarnings);
  expect_consistent(r);
}

// A file cut anywhere: an error while the header is incomplete, else whole
// lines read as they were and the cut one either corrupt or (cut between or
// inside names) an entry with fewer or shorter names. Never a crash.
TEST(DnsStateFile, TruncatedAnywhere) {
  auto entries = sample_entries();
  std::string text = write(entries);
  const size_t header = DnsStateWriter::kHeader.size();
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    Read r = read(std::string_view(text).substr(0, cut));
    expect_consistent(r);
    if (cut < header) {
      EXPECT_FALSE(r.result.ok);
      continue;
    }
    ASSERT_TRUE(r.result.ok);
    size_t whole = 0;  // entry lines complete before the cut
    for (size_t i = header + 1; i < cut; ++i) whole += text[i] == '\n';
    ASSERT_GE(r.entries.size(), whole);
    ASSERT_LE(r.entries.size(), whole + 1);
    for (size_t i = 0; i < whole; ++i) EXPECT_EQ(r.entries[i], entries[i]);
    if (r.entries.size() > whole) {
      const DnsStateEntry& last = r.entries.back();
      EXPECT_EQ(last.addr, entries[whole].addr);
      EXPECT_EQ(last.expiry, entries[whole].expiry);
      EXPECT_LE(last.names.size(), entries[whole].names.size());
    }
  }
}

TEST(DnsStateFile, HugeInputs) {
  // One line of a megabyte: one corrupt record.
  std::string text = "tripline-dns-cache 1\n* 192.0.2.1 " + std::to_string(at(600)) + " q:";
  text.append(1 << 20, 'a');
  text += "\n" + std::string(1 << 20, ' ') + "\n";  // only spaces: too few fields
  Read r = read(text);
  ASSERT_TRUE(r.result.ok);
  EXPECT_EQ(r.result.corrupt, 2u);
  // Many tokens on a line.
  text = "tripline-dns-cache 1\n* 192.0.2.1 " + std::to_string(at(600));
  for (int i = 0; i < 100000; ++i) text += " q:a";
  r = read(text);
  EXPECT_EQ(r.result.corrupt, 1u);

  // Over the size bound: refused before a byte is read (the mapping is never touched).
  const size_t size = DnsStateReadResult::kMaxBytes + 1;
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  std::vector<DnsStateEntry> out;
  DnsStateReadResult big = DnsStateReader().read_all({static_cast<const uint8_t*>(p), size}, out);
  munmap(p, size);
  EXPECT_FALSE(big.ok);
  EXPECT_FALSE(big.error.empty());
}

// Random edits of a valid file: the counts always add up.
TEST(DnsStateFile, RandomEditsKeepTheCountsConsistent) {
  const std::string text = write(sample_entries());
  std::mt19937_64 rng(11);
  for (int round = 0; round < 3000; ++round) {
    std::string t = text;
    for (int e = 0, n = 1 + static_cast<int>(rng() % 6); e < n; ++e) {
      size_t at_byte = rng() % t.size();
      switch (rng() % 4) {
        case 0:
          t[at_byte] = static_cast<char>(rng());
          break;
        case 1:
          t.erase(at_byte, 1 + rng() % 20);
          break;
        case 2:
          t.insert(at_byte, 1, " \n%:qc*0123456789."[rng() % 18]);
          break;
        default:
          t.insert(at_byte, t.substr(rng() % t.size(), rng() % 64));
      }
      if (t.empty()) t = "x";
    }
    DnsStateReadOptions opts;
    opts.expired_before = at(1);
    opts.latest = at(1000);
    opts.scope_client = rng() % 2;
    Read r = read(t, opts);
    expect_consistent(r, opts);
    if (HasFailure()) {
      ADD_FAILURE() << "input: " << testing::PrintToString(t);
      return;
    }
  }
}

// ---- the file on disk ----

class DnsStateFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "tripline_state_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/dns-cache.state";
    DnsCacheConfig conf;
    conf.max_ttl = 3600;
    cache_ = std::make_unique<DnsCache>(conf);
    std::vector<std::string_view> chain = {"www.example.com"};
    cache_->insert(ip("10.0.0.1"), ip("192.0.2.1"), chain, 600, at(0));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void put(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::string dir_, path_;
  std::unique_ptr<DnsCache> cache_;
};

// `state_file` pointing at the configuration by mistake: it stays as it is.
TEST_F(DnsStateFileOnDisk, SaveNeverOverwritesAFileThatIsNotAStateFile) {
  const std::string config = "[queue]\nfirst = 0\n";
  put(path_, config);
  DnsCacheSaveResult s = cache_->save(path_, at(1));
  EXPECT_FALSE(s.ok);
  EXPECT_TRUE(s.refused);
  EXPECT_NE(s.error.find(path_), std::string::npos) << s.error;
  EXPECT_EQ(slurp(path_), config);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  // A file of another version is not replaced either.
  put(path_, "tripline-dns-cache 2\n");
  EXPECT_FALSE(cache_->save(path_, at(1)).ok);
  EXPECT_EQ(slurp(path_), "tripline-dns-cache 2\n");
}

TEST_F(DnsStateFileOnDisk, SaveReplacesItsOwnFileAndAnEmptyOne) {
  put(path_, "");
  ASSERT_TRUE(cache_->save(path_, at(1)).ok);
  std::string first = slurp(path_);
  EXPECT_TRUE(first.starts_with("tripline-dns-cache 1\n"));
  std::vector<std::string_view> chain = {"more.example"};
  cache_->insert(ip("10.0.0.1"), ip("192.0.2.2"), chain, 600, at(0));
  DnsCacheSaveResult s = cache_->save(path_, at(1));
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_NE(slurp(path_), first);
}

// A link planted at STATE.tmp: its target is neither truncated nor written,
// and the state file is a new regular file.
TEST_F(DnsStateFileOnDisk, LinkAtTheTemporaryNameIsNotFollowed) {
  const std::string victim = dir_ + "/victim";
  put(victim, "precious\n");
  ASSERT_EQ(::symlink(victim.c_str(), (path_ + ".tmp").c_str()), 0);
  DnsCacheSaveResult s = cache_->save(path_, at(1));
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(slurp(victim), "precious\n");
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_TRUE(slurp(path_).starts_with("tripline-dns-cache 1\n"));
  // A hard link at STATE.tmp: the other name keeps its content too.
  ASSERT_EQ(::link(victim.c_str(), (path_ + ".tmp").c_str()), 0);
  ASSERT_TRUE(cache_->save(path_, at(1)).ok);
  EXPECT_EQ(slurp(victim), "precious\n");
}

// The DNS history of every client: readable by the owner only, whatever the umask.
TEST_F(DnsStateFileOnDisk, StateFileIsPrivate) {
  mode_t old = ::umask(022);
  DnsCacheSaveResult s = cache_->save(path_, at(1));
  ::umask(old);
  ASSERT_TRUE(s.ok) << s.error;
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DnsStateFileOnDisk, LoadOfAFifoFailsAtOnce) {
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  auto outcome = test::run_bounded(
      [&] {
        DnsCacheLoadResult r = cache_->load(path_, at(1));
        return !r.ok && !r.missing;
      },
      std::chrono::seconds(5));
  EXPECT_EQ(outcome, test::ChildOutcome::Passed);
  EXPECT_EQ(check_dns_state_file(path_).kind, DnsStateFileKind::NotOurs);
  EXPECT_FALSE(cache_->save(path_, at(1)).ok);
}

}  // namespace
}  // namespace tripline
