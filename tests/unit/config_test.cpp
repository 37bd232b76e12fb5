#include "config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace tripline {
namespace {

// Errors must say where (file:line) and what key; their wording is free.
#define EXPECT_PREFIX(text, prefix) EXPECT_EQ((text).rfind(prefix, 0), 0u) << (text)

std::string error_of(const std::string& text) {
  try {
    Config::load_string(text, "t.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsWithoutFile) {
  Config c = Config::defaults();
  EXPECT_EQ(c.queue.first, 0);
  EXPECT_EQ(c.queue.count, 1);
  EXPECT_TRUE(c.queue.fail_open);
  EXPECT_EQ(c.queue.default_verdict, Verdict::Accept);
  EXPECT_TRUE(c.network.inside.contains(*IpAddr::parse("192.168.1.1")));
  EXPECT_TRUE(c.network.inside.contains(*IpAddr::parse("100.64.0.1")));
  EXPECT_TRUE(c.network.inside.contains(*IpAddr::parse("fd12::1")));
  EXPECT_TRUE(c.network.inside.contains(*IpAddr::parse("fe80::1")));
  EXPECT_FALSE(c.network.inside.contains(*IpAddr::parse("8.8.8.8")));
  EXPECT_FALSE(c.network.inside.contains(*IpAddr::parse("2001:db8::1")));
}

TEST(Config, ReadsEverySection) {
  Config c = Config::load_string(R"(
[queue]
first = 3
count = 2
fail_open = false
copy_range = 256
default_verdict = "drop"

[network]
inside = ["10.9.0.0/16", "fd00::/8"]

[flows]
udp = 5
tcp_established = 7.5
capacity = 100

[log]
events = "/tmp/e.json"
)",
                                 "t.toml");
  EXPECT_EQ(c.queue.first, 3);
  EXPECT_EQ(c.queue.count, 2);
  EXPECT_FALSE(c.queue.fail_open);
  EXPECT_EQ(c.queue.copy_range, 256u);
  EXPECT_EQ(c.queue.default_verdict, Verdict::Drop);
  EXPECT_TRUE(c.network.inside.contains(*IpAddr::parse("10.9.1.1")));
  EXPECT_FALSE(c.network.inside.contains(*IpAddr::parse("10.8.1.1")));  // replaces the default
  EXPECT_EQ(c.flows.udp, seconds(5));
  EXPECT_EQ(c.flows.tcp_established, seconds(7.5));
  EXPECT_EQ(c.flows.capacity, 100u);
  EXPECT_EQ(c.log.events, "/tmp/e.json");
}

// The documented default event log is used when no [log] events key is
// given (live); replay writes events only where asked.
TEST(Config, EventLogDefaultIsTheDocumentedOne) {
  Config d = Config::defaults();
  EXPECT_EQ(d.log.events, "/var/log/tripline/eve.json");
  EXPECT_TRUE(d.log.events_default);
  EXPECT_EQ(d.log.replay_events(""), "");
  EXPECT_EQ(d.log.replay_events("/tmp/x.json"), "/tmp/x.json");
  Config none = Config::load_string("[log]\nevents = \"\"\n", "t.toml");
  EXPECT_EQ(none.log.events, "");
  EXPECT_EQ(none.log.replay_events(""), "");
  Config set = Config::load_string("[log]\nevents = \"/srv/eve.json\"\n", "t.toml");
  EXPECT_FALSE(set.log.events_default);
  EXPECT_EQ(set.log.replay_events(""), "/srv/eve.json");
  EXPECT_EQ(set.log.replay_events("-"), "-");
  Config other = Config::load_string("[queue]\nfirst = 2\n", "t.toml");
  EXPECT_EQ(other.log.events, "/var/log/tripline/eve.json");
}

TEST(Config, ErrorsNameFileLineAndKey) {
  EXPECT_PREFIX(error_of("[queue]\nfirst = 1\nfrist = 2\n"), "t.toml:3: queue.frist");
  EXPECT_PREFIX(error_of("[log]\nqueue_mb = 0\n"), "t.toml:2: log.queue_mb");
  EXPECT_PREFIX(error_of("\n[queue]\ncount = \"two\"\n"), "t.toml:3: queue.count");
  EXPECT_PREFIX(error_of("[queue]\nfirst = 70000\n"), "t.toml:2: queue.first");
  EXPECT_PREFIX(error_of("[network]\ninside = [\"10.0.0.0/8\",\n  \"10.0.0.0/40\"]\n"),
                "t.toml:3: network.inside");
  EXPECT_PREFIX(error_of("[queue]\ndefault_verdict = \"maybe\"\n"),
                "t.toml:2: queue.default_verdict");
  EXPECT_PREFIX(error_of("[bogus]\nx = 1\n"), "t.toml:1: [bogus]");
  EXPECT_PREFIX(error_of("[flows]\nudp = -1\n"), "t.toml:2: flows.udp");
  EXPECT_PREFIX(error_of("[queue]\nfail_open = 1\n"), "t.toml:2: queue.fail_open");
  EXPECT_PREFIX(error_of("[queue]\ncount = 0\n"), "t.toml:2: queue.count");
  EXPECT_PREFIX(error_of("queue = 3\n"), "t.toml:1: queue");
  // TOML syntax errors carry the line too.
  EXPECT_PREFIX(error_of("[queue]\nfirst = = 1\n"), "t.toml:2: ");
}

// Values the engine cannot work with are refused where they are written.
TEST(Config, RefusesValuesTheEngineCannotWorkWith) {
  // Cut inside the headers: every packet would be malformed.
  EXPECT_PREFIX(error_of("[queue]\ncopy_range = 20\n"), "t.toml:2: queue.copy_range");
  EXPECT_PREFIX(error_of("[queue]\ncopy_range = 70000\n"), "t.toml:2: queue.copy_range");
  EXPECT_EQ(error_of("[queue]\ncopy_range = 0\n"), "");  // whole packets
  EXPECT_EQ(error_of("[queue]\ncopy_range = 128\n"), "");
  // DNS answers must be whole: a small range with DNS observation is refused.
  EXPECT_PREFIX(error_of("[queue]\ncopy_range = 256\n[egress]\nmode = \"monitor\"\n"),
                "t.toml:2: queue.copy_range");
  EXPECT_PREFIX(error_of("[dns]\nresolvers = [\"10.0.0.53\"]\n[queue]\n\ncopy_range = 1500\n"),
                "t.toml:5: queue.copy_range");
  // A kernel queue of 0 packets hands tripline nothing.
  EXPECT_PREFIX(error_of("[queue]\nmax_len = 0\n"), "t.toml:2: queue.max_len");
  // 1e8 flows per worker is a bad_alloc at start, not a configuration.
  EXPECT_PREFIX(error_of("[flows]\ncapacity = 100000000\n"), "t.toml:2: flows.capacity");
  EXPECT_EQ(error_of("[flows]\ncapacity = 16777216\n"), "");
}

TEST(Config, WhereNamesTheLineOfAKeySetInTheFile) {
  Config c = Config::load_string("[queue]\n\ncount = 2\n", "t.toml");
  EXPECT_EQ(c.where("queue.count"), "t.toml:3: queue.count");
  EXPECT_EQ(c.where("queue.first"), "t.toml: queue.first");
}

TEST(Config, MissingFileIsAClearError) {
  try {
    Config::load_file("/nonexistent/tripline.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tripline.toml"), std::string::npos);
  }
}

}  // namespace
}  // namespace tripline

namespace tripline {
namespace {

TEST(Config, DnsAndEgress) {
  Config c = Config::load_string(R"(
[dns]
resolvers = ["10.0.0.53", "10.0.0.54:5353", "fd00::53", "[fd00::54]:5300"]
scope = "global"
client_identity = "address"
min_ttl = 5
max_ttl = 600
grace = 2
block_lists = ["lists/ads.txt", "/abs/list.txt"]
block_mode = "nxdomain"

[egress]
mode = "enforce"
action = "reject"
allow = ["192.0.2.0/24"]
)",
                                 "/etc/tripline/t.toml");
  ASSERT_EQ(c.dns.resolvers.size(), 4u);
  EXPECT_EQ(c.dns.resolvers[0], (ResolverAddr{*IpAddr::parse("10.0.0.53"), 53}));
  EXPECT_EQ(c.dns.resolvers[1], (ResolverAddr{*IpAddr::parse("10.0.0.54"), 5353}));
  EXPECT_EQ(c.dns.resolvers[2], (ResolverAddr{*IpAddr::parse("fd00::53"), 53}));
  EXPECT_EQ(c.dns.resolvers[3], (ResolverAddr{*IpAddr::parse("fd00::54"), 5300}));
  EXPECT_EQ(c.dns.scope, DnsScope::Global);
  EXPECT_EQ(c.dns.client_identity, ClientIdentity::Address);
  EXPECT_EQ(Config::load_string("", "t.toml").dns.client_identity, ClientIdentity::Host);
  EXPECT_EQ(c.dns.min_ttl, 5u);
  EXPECT_EQ(c.dns.grace, 2u);
  EXPECT_EQ(c.dns.block_lists[0], "/etc/tripline/lists/ads.txt");  // relative to the config
  EXPECT_EQ(c.dns.block_lists[1], "/abs/list.txt");
  EXPECT_EQ(c.dns.block_mode, BlockMode::Nxdomain);
  EXPECT_EQ(c.egress.mode, EgressMode::Enforce);
  EXPECT_EQ(c.egress.action, Verdict::Reject);
  EXPECT_TRUE(c.egress.allow.contains(*IpAddr::parse("192.0.2.9")));
}

TEST(Config, DnsAndEgressErrors) {
  for (const char* bad :
       {"10.0.0.53:0", "10.0.0.53:", "[fd00::53", "[fd00::53]x", "name:53", "10.0.0.53:99999"}) {
    std::string text = std::string("[dns]\nresolvers = [\"") + bad + "\"]\n";
    EXPECT_PREFIX(error_of(text), "t.toml:2: dns.resolvers");
  }
  EXPECT_PREFIX(error_of("[dns]\nscope = \"local\"\n"), "t.toml:2: dns.scope");
  EXPECT_PREFIX(error_of("[dns]\nclient_identity = \"mac\"\n"), "t.toml:2: dns.client_identity");
  EXPECT_PREFIX(error_of("[dns]\nmin_ttl = 100\nmax_ttl = 10\n"), "t.toml:2: dns.min_ttl");
  EXPECT_PREFIX(error_of("[egress]\nmode = \"on\"\n"), "t.toml:2: egress.mode");
  EXPECT_PREFIX(error_of("[egress]\naction = \"accept\"\n"), "t.toml:2: egress.action");
  EXPECT_PREFIX(error_of("[egress]\nallow = [\"1.2.3.4/99\"]\n"), "t.toml:2: egress.allow");
}

TEST(Config, Capture) {
  Config c = Config::load_string(R"(
[capture]
dir = "cap"
max_files = 5
max_sessions = 2
pre_packets = 0
seconds = 2.5
packets = 100
megabytes = 3
snaplen = 1500
ring_mb = 1
)",
                                 "/etc/tripline/t.toml");
  EXPECT_EQ(c.capture.dir, "/etc/tripline/cap");
  EXPECT_EQ(c.capture.max_files, 5u);
  EXPECT_EQ(c.capture.max_sessions, 2u);
  EXPECT_EQ(c.capture.pre_packets, 0u);
  EXPECT_EQ(c.capture.default_duration, seconds(2.5));
  EXPECT_EQ(c.capture.default_max_packets, 100u);
  EXPECT_EQ(c.capture.default_max_bytes, 3u << 20);
  EXPECT_EQ(c.capture.snaplen, 1500u);
  EXPECT_EQ(c.capture.ring_bytes, 1u << 20);
  EXPECT_TRUE(Config::defaults().capture.dir.empty());  // capture is off unless asked for

  EXPECT_PREFIX(error_of("[capture]\ndir = \"\"\n"), "t.toml:2: capture.dir");
  EXPECT_PREFIX(error_of("[capture]\nmax_files = 0\n"), "t.toml:2: capture.max_files");
  EXPECT_PREFIX(error_of("[capture]\nmax_sessions = 0\n"), "t.toml:2: capture.max_sessions");
  EXPECT_PREFIX(error_of("[capture]\nsnaplen = 10\n"), "t.toml:2: capture.snaplen");
  EXPECT_PREFIX(error_of("[capture]\nseconds = -1\n"), "t.toml:2: capture.seconds");
  EXPECT_PREFIX(error_of("[capture]\nring_mb = 0\n"), "t.toml:2: capture.ring_mb");
  EXPECT_PREFIX(error_of("[capture]\nrotate = 1\n"), "t.toml:2: capture.rotate: unknown key");
}

}  // namespace
}  // namespace tripline

namespace tripline {
namespace {

// Issue 11: the recording format and Suricata's DNS layout version.
TEST(Config, CaptureFormatAndDnsVersion) {
  Config d = Config::defaults();
  EXPECT_EQ(d.capture.format, CaptureFormat::Pcapng);
  EXPECT_EQ(d.log.dns_version, 3);
  Config c =
      Config::load_string("[capture]\nformat = \"pcap\"\n[log]\ndns_version = 2\n", "t.toml");
  EXPECT_EQ(c.capture.format, CaptureFormat::Pcap);
  EXPECT_EQ(c.log.dns_version, 2);
  EXPECT_EQ(Config::load_string("[capture]\nformat = \"pcapng\"\n", "t.toml").capture.format,
            CaptureFormat::Pcapng);
  try {
    Config::load_string("[capture]\nformat = \"erf\"\n", "t.toml");
    ADD_FAILURE() << "format erf accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("t.toml:2: capture.format", 0), 0u) << e.what();
  }
  for (const char* v : {"1", "4"}) {
    try {
      Config::load_string(std::string("[log]\ndns_version = ") + v + "\n", "t.toml");
      ADD_FAILURE() << "dns_version " << v << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("t.toml:2: log.dns_version", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace tripline
