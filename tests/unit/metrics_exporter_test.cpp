#include "metrics_exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config.h"
#include "counters.h"
#include "duration_histogram.h"

namespace tripline {
namespace {

TEST(DurationHistogram, BucketsByUpperBound) {
  EXPECT_EQ(DurationHistogram::index(0), 0u);
  EXPECT_EQ(DurationHistogram::index(1'000), 0u);  // le="1e-06" holds 1 µs exactly
  EXPECT_EQ(DurationHistogram::index(1'001), 1u);
  EXPECT_EQ(DurationHistogram::index(1'000'000'000), DurationHistogram::kBuckets - 2);
  EXPECT_EQ(DurationHistogram::index(1'000'000'001), DurationHistogram::kBuckets - 1);
  DurationHistogram h;
  h.observe(3'000, 4);  // a batch of 4 packets that waited 3 µs
  h.observe(2'000'000'000);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.bucket(2), 4u);
  EXPECT_EQ(h.bucket(DurationHistogram::kBuckets - 1), 1u);
  EXPECT_EQ(h.sum_ns(), 12'000u + 2'000'000'000u);
}

TEST(MetricsExporter, EveryCounterIsExported) {
#define TRIPLINE_CHECK(field, name) EXPECT_TRUE(metrics_cover_counter(name)) << name;
  TRIPLINE_COUNTERS(TRIPLINE_CHECK)
#undef TRIPLINE_CHECK
  EXPECT_FALSE(metrics_cover_counter("no_such_counter"));
}

// The value of the sample line that starts with `series` ("name{labels}"), or -1.
double sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n')
      return std::strtod(text.c_str() + at + series.size(), nullptr);
    at += series.size();
  }
  return -1;
}

MetricsSources two_workers(Counters& a, Counters& b) {
  MetricsSources s;
  s.workers = {&a, &b};
  s.first_queue = 4;
  s.queue_count = 2;
  s.queue_table = [] {
    return std::vector<QueueRow>{
        {.queue = 3, .waiting = 99},  // not ours
        {.queue = 4, .waiting = 2, .queue_dropped = 5, .user_dropped = 6, .id_sequence = 70},
        {.queue = 5, .waiting = 0, .queue_dropped = 0, .user_dropped = 0, .id_sequence = 8}};
  };
  s.dns_cache_entries = [] { return uint64_t{12}; };
  s.uninspected = []() -> std::optional<uint64_t> { return 3; };
  return s;
}

TEST(MetricsExporter, CountersCarryTheWorkerLabel) {
  Counters a, b;
  a.packets.add(5);
  b.packets.add(7);
  a.verdict_accept.add(4);
  a.verdict_drop.add(1);
  b.egress_blocked.add(2);
  a.decode_error[static_cast<size_t>(DecodeError::Ipv4Truncated)].add(3);
  a.named.add("rule.block-telnet").add(9);
  a.flows_created.add(10);
  a.flows_ended.add(4);
  std::string text = metrics_text(two_workers(a, b));
  EXPECT_EQ(sample(text, R"(tripline_packets_total{worker="0"})"), 5);
  EXPECT_EQ(sample(text, R"(tripline_packets_total{worker="1"})"), 7);
  EXPECT_EQ(sample(text, R"(tripline_verdicts_total{worker="0",verdict="accept"})"), 4);
  EXPECT_EQ(sample(text, R"(tripline_verdicts_total{worker="0",verdict="drop"})"), 1);
  EXPECT_EQ(sample(text, R"(tripline_egress_total{worker="1",result="blocked"})"), 2);
  EXPECT_EQ(
      sample(text, R"(tripline_decode_error_reasons_total{worker="0",reason="ipv4_truncated"})"),
      3);
  EXPECT_EQ(sample(text, R"(tripline_rule_matches_total{worker="0",rule="block-telnet"})"), 9);
  EXPECT_EQ(sample(text, R"(tripline_flows_active{worker="0"})"), 6);
  EXPECT_EQ(sample(text, R"(tripline_flows_active{worker="1"})"), 0);
  EXPECT_EQ(sample(text, "tripline_dns_cache_entries"), 12);
  EXPECT_EQ(sample(text, "tripline_nfqueue_uninspected_packets_total"), 3);
  EXPECT_NE(text.find("# TYPE tripline_packets_total counter"), std::string::npos);
  EXPECT_NE(text.find("# HELP tripline_packets_total "), std::string::npos);
  // Counters the workers never count are not exported per worker.
  EXPECT_EQ(text.find("nfq_queue_dropped"), std::string::npos);
}

TEST(MetricsExporter, QueuesComeFromTheKernelTable) {
  Counters a, b;
  std::string text = metrics_text(two_workers(a, b));
  EXPECT_EQ(sample(text, R"(tripline_nfqueue_waiting_packets{queue="4"})"), 2);
  EXPECT_EQ(sample(text, R"(tripline_nfqueue_waiting_packets{queue="5"})"), 0);
  EXPECT_EQ(sample(text, R"(tripline_nfqueue_waiting_packets{queue="3"})"), -1);  // not ours
  EXPECT_EQ(
      sample(text, R"(tripline_nfqueue_dropped_packets_total{queue="4",reason="queue_full"})"), 5);
  EXPECT_EQ(
      sample(text, R"(tripline_nfqueue_dropped_packets_total{queue="4",reason="socket_full"})"), 6);
  EXPECT_EQ(sample(text, R"(tripline_nfqueue_queued_packets_total{queue="4"})"), 70);
}

TEST(MetricsExporter, HistogramsInSeconds) {
  Counters a, b;
  a.verdict_latency.observe(3'000, 4);
  a.verdict_latency.observe(40'000);
  b.lua_call_time.observe(500);
  std::string text = metrics_text(two_workers(a, b));
  EXPECT_NE(text.find("# TYPE tripline_verdict_latency_seconds histogram"), std::string::npos);
  EXPECT_EQ(sample(text, R"(tripline_verdict_latency_seconds_count{worker="0"})"), 5);
  EXPECT_NEAR(sample(text, R"(tripline_verdict_latency_seconds_sum{worker="0"})"), 52e-6, 1e-9);
  EXPECT_EQ(sample(text, R"(tripline_verdict_latency_seconds_bucket{worker="0",le="+Inf"})"), 5);
  // Cumulative: 4 at <= 5 µs, all 5 at <= 50 µs.
  EXPECT_EQ(sample(text, R"(tripline_verdict_latency_seconds_bucket{worker="0",le="2.5e-06"})"), 0);
  EXPECT_EQ(sample(text, R"(tripline_verdict_latency_seconds_bucket{worker="0",le="5e-06"})"), 4);
  EXPECT_EQ(sample(text, R"(tripline_verdict_latency_seconds_bucket{worker="0",le="2.5e-05"})"), 4);
  EXPECT_EQ(sample(text, R"(tripline_verdict_latency_seconds_bucket{worker="0",le="5e-05"})"), 5);
  EXPECT_EQ(sample(text, R"(tripline_lua_call_duration_seconds_count{worker="1"})"), 1);
  EXPECT_EQ(sample(text, R"(tripline_lua_call_duration_seconds_bucket{worker="1",le="1e-06"})"), 1);
}

// promtool (Debian `prometheus`) lints the exposition as Prometheus would.
TEST(MetricsExporter, PromtoolAcceptsTheText) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "no promtool";
  Counters a, b;
  a.packets.add(1);
  a.named.add("rule.r1").add(1);
  a.verdict_latency.observe(2'000);
  std::string path = testing::TempDir() + "/metrics_exporter_test.prom";
  std::ofstream(path) << metrics_text(two_workers(a, b));
  std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;  // lint problems are printed even when the exit status is 0
  std::filesystem::remove(path);
}

// A plain HTTP GET to 127.0.0.1:port; returns the whole response.
std::string http_get(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(MetricsServer, ServesTheMetricsOverHttp) {
  Counters a, b;
  a.packets.add(42);
  MetricsServer server({.host = "127.0.0.1", .ipv6 = false, .port = 0}, two_workers(a, b));
  ASSERT_NE(server.port(), 0);
  std::string r = http_get(server.port(), "/metrics");
  EXPECT_NE(r.find("200 OK"), std::string::npos) << r;
  EXPECT_NE(r.find("tripline_packets_total{worker=\"0\"} 42"), std::string::npos) << r;
  a.packets.add(1);  // each scrape reads the counters anew
  EXPECT_NE(http_get(server.port(), "/metrics").find("tripline_packets_total{worker=\"0\"} 43"),
            std::string::npos);
}

TEST(MetricsServer, PortInUseIsAClearError) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const uint16_t port = ntohs(sa.sin_port);
  Counters a, b;
  try {
    MetricsServer server({.host = "127.0.0.1", .ipv6 = false, .port = port}, two_workers(a, b));
    ADD_FAILURE() << "listening on a port in use did not fail";
  } catch (const MetricsError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << e.what();
  }
  close(fd);
}

TEST(MetricsServer, AddressNotOfThisHostIsAClearError) {
  Counters a, b;
  // 192.0.2.0/24 is TEST-NET-1: never an address of this host.
  EXPECT_THROW(MetricsServer({.host = "192.0.2.1", .ipv6 = false, .port = 9740}, two_workers(a, b)),
               MetricsError);
}

TEST(MetricsConfig, ListenAddress) {
  EXPECT_EQ(Config::defaults().metrics.listen, "127.0.0.1:9740");
  auto v4 = parse_listen_address("10.1.2.3:9100");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.1.2.3");
  EXPECT_FALSE(v4->ipv6);
  EXPECT_EQ(v4->port, 9100);
  auto v6 = parse_listen_address("[::1]:9740");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->ipv6);
  for (const char* bad :
       {"", "9740", "localhost:9740", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:97x0", "::1:9740", "[127.0.0.1]:9740", "[::1]9740", "[]:1"})
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
  EXPECT_EQ(Config::load_string("[metrics]\nlisten = \"\"\n", "t.toml").metrics.listen, "");
  EXPECT_EQ(Config::load_string("[metrics]\nlisten = \"[::]:9100\"\n", "t.toml").metrics.listen,
            "[::]:9100");
  try {
    Config::load_string("[metrics]\nlisten = \"localhost:9740\"\n", "t.toml");
    ADD_FAILURE() << "a host name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("t.toml:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Config::load_string("[metrics]\nport = 1\n", "t.toml"), ConfigError);
}

}  // namespace
}  // namespace tripline
