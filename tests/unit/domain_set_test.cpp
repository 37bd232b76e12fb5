#include "domain_set.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "run_bounded.h"

namespace tripline {
namespace {

DomainSet load(std::string_view text, DomainListReport& r,
               DomainListKind kind = DomainListKind::Block) {
  DomainSet s(kind);
  s.load_text(text, "/etc/lists/test.txt", "blocklist", r);
  return s;
}

std::string temp_path(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          ("tripline-domains-" + std::to_string(::getpid()) + "-" + tag))
      .string();
}

TEST(DomainSet, HostsFormat) {
  DomainListReport r;
  DomainSet s = load(
      "127.0.0.1 localhost\n"
      "::1 localhost ip6-localhost ip6-loopback\n"
      "255.255.255.255 broadcasthost\n"
      "0.0.0.0 0.0.0.0\n"
      "0.0.0.0 ads.example.com\n"
      "127.0.0.1 a.example b.example\tc.example # trailing comment\n"
      ":: six.example\n"
      "0.0.0.0 bad!name.example good.example\n",
      r);
  EXPECT_EQ(r.localhost, 6u);
  EXPECT_EQ(r.added, 6u);
  EXPECT_EQ(r.invalid, 1u);
  for (const char* n :
       {"ads.example.com", "a.example", "b.example", "c.example", "six.example", "good.example"})
    EXPECT_TRUE(s.match(n)) << n;
  EXPECT_FALSE(s.match("localhost"));
  EXPECT_FALSE(s.match("comment"));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].rfind("/etc/lists/test.txt:8: invalid name", 0), 0u) << r.warnings[0];
}

TEST(DomainSet, PlainFormatCommentsAndLineEnds) {
  DomainListReport r;
  DomainSet s = load(
      "# comment\r\n"
      "! also a comment\r\n"
      "\r\n"
      "tracker.example.net\r\n"
      "   Mixed.CASE.Example.   \r\n"
      "under_score.example\n"
      "two words\n"
      "bad..dots.example\n"
      "-ok-.example\n"
      "1.2.3.4\n"
      "x" +
          std::string(64, 'a') +
          ".example\n"
          "no-newline.example",
      r);
  EXPECT_EQ(r.lines, 12u);
  EXPECT_EQ(r.added, 5u);
  EXPECT_EQ(r.invalid, 4u);
  EXPECT_TRUE(s.match("tracker.example.net"));
  EXPECT_TRUE(s.match("mixed.case.example"));
  EXPECT_TRUE(s.match("under_score.example"));
  EXPECT_TRUE(s.match("no-newline.example"));
  EXPECT_EQ(r.warnings.size(), 4u);
  EXPECT_NE(r.warnings[0].find(":7: unrecognised line"), std::string::npos) << r.warnings[0];
}

TEST(DomainSet, AdblockSubset) {
  DomainListReport r;
  DomainSet s = load(
      "[Adblock Plus 2.0]\n"
      "||adnetwork.example^\n"
      "@@||static.adnetwork.example^\n"
      "||important.example^$important\n"
      "||pipe.example^|\n"
      "||opts.example^$third-party\n"
      "||noterm.example\n"
      "/banner/*/ads\n"
      "example.com##.ad-box\n"
      "*.wild.example\n"
      "|https://x.example/|\n"
      "@@||bad name^\n",
      r);
  EXPECT_EQ(r.added, 3u);
  EXPECT_EQ(r.exceptions, 1u);
  EXPECT_EQ(r.unsupported, 6u);
  EXPECT_EQ(r.invalid, 1u);
  EXPECT_TRUE(s.match("adnetwork.example"));
  EXPECT_TRUE(s.match("x.adnetwork.example"));
  EXPECT_FALSE(s.match("static.adnetwork.example"));    // exception
  EXPECT_FALSE(s.match("a.static.adnetwork.example"));  // exception covers subdomains
  EXPECT_TRUE(s.match("important.example"));
  EXPECT_TRUE(s.match("pipe.example"));
  EXPECT_FALSE(s.match("opts.example"));
  EXPECT_FALSE(s.match("example.com"));
  EXPECT_EQ(s.exception_count(), 1u);
}

TEST(DomainSet, AllowKindTakesExceptionsAsEntries) {
  DomainListReport r;
  DomainSet s = load("@@||cdn.example^\nplain.example\n||ab.example^\n", r, DomainListKind::Allow);
  EXPECT_EQ(r.added, 3u);
  EXPECT_TRUE(s.match("cdn.example"));
  EXPECT_TRUE(s.match("x.plain.example"));
  EXPECT_TRUE(s.match("ab.example"));
  EXPECT_EQ(s.exception_count(), 0u);
}

TEST(DomainSet, SuffixMatching) {
  DomainListReport r;
  DomainSet s = load("ads.example.com\n", r);
  EXPECT_TRUE(s.match("ads.example.com"));
  EXPECT_TRUE(s.match("x.ads.example.com"));
  EXPECT_TRUE(s.match("a.b.c.ads.example.com"));
  EXPECT_TRUE(s.match("ADS.Example.COM."));
  EXPECT_FALSE(s.match("example.com"));
  EXPECT_FALSE(s.match("bads.example.com"));
  EXPECT_FALSE(s.match("ads.example.com.evil"));
  EXPECT_FALSE(s.match(""));
  EXPECT_FALSE(s.match("."));
  EXPECT_FALSE(s.match("com"));
  // "a\.ads" is one label (an escaped dot from the wire): not under ads.example.com.
  EXPECT_FALSE(s.match("a\\.ads.example.com"));
  EXPECT_TRUE(s.match("a\\.b.ads.example.com"));
  // Very long names: only their short suffixes can match.
  std::string longname;
  for (int i = 0; i < 120; ++i) longname += "abcdefgh.";
  EXPECT_TRUE(s.match(longname + "ads.example.com"));
  EXPECT_FALSE(s.match(longname + "example.com"));
  DomainMatch m = s.find("x.ads.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m.label, "blocklist:test.txt");
  EXPECT_EQ(m.suffix_start, 2u);
}

TEST(DomainSet, LabelsPerListAndMostSpecificWins) {
  DomainSet s;
  DomainListReport r;
  s.load_text("example.com\n", "/x/broad.txt", "blocklist", r);
  s.load_text("ads.example.com\nexample.com\n", "/x/ads.txt", "blocklist", r);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(*s.match("a.ads.example.com"), "blocklist:ads.txt");
  EXPECT_EQ(*s.match("www.example.com"), "blocklist:broad.txt");
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.add("Added.Example.", "manual"));
  EXPECT_FALSE(s.add("added.example", "manual"));
  EXPECT_FALSE(s.add("in valid", "manual"));
  EXPECT_EQ(*s.match("added.example"), "manual");
}

TEST(DomainSet, ExampleListsLoadCleanly) {
  std::string dir = std::string(TRIPLINE_SOURCE_DIR) + "/rules/lists/";
  DomainListReport r;
  auto s = load_domain_lists(
      {dir + "example-hosts.txt", dir + "example-domains.txt", dir + "example-adblock.txt"},
      "blocklist", &r);
  EXPECT_EQ(r.invalid, 0u);
  EXPECT_EQ(r.unsupported, 0u);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(*s->match("x.ads.example.com"), "blocklist:example-hosts.txt");
  EXPECT_EQ(*s->match("telemetry.example.test"), "blocklist:example-domains.txt");
  EXPECT_EQ(*s->match("adnetwork.example"), "blocklist:example-adblock.txt");
  EXPECT_FALSE(s->match("static.adnetwork.example"));
  EXPECT_FALSE(s->match("localhost"));
  EXPECT_GE(s->size(), 12u);
}

TEST(DomainSet, MissingFileThrows) {
  EXPECT_THROW(load_domain_lists({temp_path("missing.txt")}, "blocklist"), DomainListError);
  auto allow = load_domain_lists({}, "allowlist");
  EXPECT_EQ(allow->kind(), DomainListKind::Allow);
}

TEST(DomainSet, MillionNamesLoadFast) {
  std::string path = temp_path("million.txt");
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("# generated\n", f);
    for (int i = 0; i < 1'000'000; ++i) {
      if (i % 3 == 0) {
        std::fprintf(f, "0.0.0.0 host%d.zone%d.example\n", i, i % 997);
      } else if (i % 3 == 1) {
        std::fprintf(f, "||host%d.zone%d.example^\n", i, i % 997);
      } else {
        std::fprintf(f, "host%d.zone%d.example\n", i, i % 997);
      }
    }
    std::fclose(f);
  }
  DomainListReport r;
  auto t0 = std::chrono::steady_clock::now();
  auto s = load_domain_lists({path}, "blocklist", &r);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("loaded %zu names in %.2f s\n", s->size(), secs);
  EXPECT_LT(secs, 60.0);  // release builds: well under a second or two
  EXPECT_EQ(s->size(), 1'000'000u);
  EXPECT_EQ(r.invalid + r.unsupported, 0u);
  EXPECT_TRUE(s->match("host0.zone0.example"));
  EXPECT_TRUE(s->match("deep.sub.host999999.zone" + std::to_string(999999 % 997) + ".example"));
  EXPECT_TRUE(s->match("host500001.zone" + std::to_string(500001 % 997) + ".example"));
  EXPECT_FALSE(s->match("host1000000.zone1.example"));
  EXPECT_FALSE(s->match("zone0.example"));
  auto m0 = std::chrono::steady_clock::now();
  size_t hits = 0;
  for (int i = 0; i < 200000; ++i)
    hits += s->match("www.host" + std::to_string(i * 7) + ".zone" + std::to_string(i * 7 % 997) +
                     ".example")
                .has_value();
  double msecs = std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
  std::printf("200000 matches in %.3f s\n", msecs);
  EXPECT_EQ(hits, 142858u);  // i*7 < 1e6
  std::filesystem::remove(path);
}

// Names from a list are echoed in warnings; a list's bytes are anything.
TEST(DomainSet, WarningsEscapeWhatTheListHolds) {
  DomainListReport r;
  load("\x1b[31mred\x1b[0m.example bad\n||ok.example^$third-party\n", r);
  ASSERT_EQ(r.warnings.size(), 2u);
  for (const auto& w : r.warnings) {
    for (char c : w) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << w;
  }
  EXPECT_NE(r.warnings[0].find("\\x1b[31mred"), std::string::npos) << r.warnings[0];
}

// A list path that is a FIFO (no writer) or /dev/zero: a clear error at once,
// not a hang or an endless read.
TEST(DomainSet, ListThatIsAFifoOrADeviceFailsClearly) {
  std::string fifo = temp_path("fifo");
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/zero")}) {
    auto outcome = test::run_bounded(
        [&] {
          try {
            load_domain_lists({path}, "blocklist");
          } catch (const DomainListError& e) {
            return std::string(e.what()).find(path) != std::string::npos;
          }
          return false;
        },
        std::chrono::seconds(5));
    EXPECT_EQ(outcome, test::ChildOutcome::Passed) << path;
  }
  ::unlink(fifo.c_str());
}

TEST(DomainSet, ListLargerThanTheBoundFailsClearly) {
  std::string path = temp_path("huge.txt");
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(::ftruncate(fileno(f), static_cast<off_t>(kMaxDomainListBytes + 1)), 0);  // sparse
    std::fclose(f);
  }
  EXPECT_THROW(load_domain_lists({path}, "blocklist"), DomainListError);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace tripline

namespace tripline {
namespace {

// What a reload compares to tell whether a list's content changed: the
// order names were read in does not matter; a name, an exception or the
// list a name came from does.
TEST(DomainSetFingerprint, SameContentSameFingerprint) {
  auto of = [](const std::string& text, const char* file = "/x/a.txt") {
    DomainSet s;
    DomainListReport r;
    s.load_text(text, file, "domain_list", r);
    return s.fingerprint();
  };
  EXPECT_EQ(of("a.example\nb.example\n"), of("b.example\na.example\n"));
  EXPECT_NE(of("a.example\nb.example\n"), of("a.example\nc.example\n"));
  EXPECT_NE(of("a.example\n"), of("a.example\nb.example\n"));
  EXPECT_NE(of("||a.example^\n"), of("||a.example^\n@@||b.a.example^\n"));
  EXPECT_NE(of("a.example\n", "/x/a.txt"), of("a.example\n", "/x/b.txt"));
}

}  // namespace
}  // namespace tripline
