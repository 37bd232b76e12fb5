#include "client_names.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "capture_test_util.h"
#include "lease_monitor.h"

namespace tripline {
namespace {

MacAddr mac(const char* s) { return *MacAddr::parse(s); }
IpAddr ip(const char* s) { return *IpAddr::parse(s); }

TEST(ClientNames, ByMacThenByAddress) {
  ClientNames names;
  std::vector<Lease> leases = {
      {.addr = ip("192.168.1.23"), .mac = mac("52:54:00:12:34:56"), .name = "laptop"},
      {.addr = ip("fd00::99"), .mac = {}, .name = "v6-only"},
  };
  names.replace(leases);
  EXPECT_EQ(names.size(), 2u);
  // The laptop's IPv6 address: its host (MAC) names it.
  EXPECT_EQ(names.lookup(mac("52:54:00:12:34:56"), ip("fd00::23")), "laptop");
  // A routed client: by address.
  EXPECT_EQ(names.lookup({}, ip("192.168.1.23")), "laptop");
  EXPECT_EQ(names.lookup(mac("52:54:00:00:00:01"), ip("fd00::99")), "v6-only");
  EXPECT_EQ(names.lookup(mac("52:54:00:00:00:01"), ip("192.168.1.200")), std::nullopt);
  EXPECT_EQ(names.find({}, ip("10.9.9.9")), nullptr);
  // A flow that holds a name keeps it after the table is replaced.
  ClientNames::Name held = names.find({}, ip("192.168.1.23"));
  names.replace({});
  EXPECT_EQ(names.size(), 0u);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(*held, "laptop");
}

class LeaseMonitorTest : public testing::Test {
 protected:
  void write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  capture_test::TempDir dir_;
  std::string path_ = dir_.path() + "/dnsmasq.leases";
  ClientNames names_;
  std::vector<std::string> warnings_;
};

TEST_F(LeaseMonitorTest, ReloadsOnChangeAndWarnsOncePerChange) {
  LeaseMonitor m(
      names_, {path_}, [this](const std::string& w) { warnings_.push_back(w); },
      [] { return int64_t{1795000000}; });
  // Missing: a warning, not a stop; once, however often it is polled.
  EXPECT_TRUE(m.poll());
  EXPECT_FALSE(m.poll());
  EXPECT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(m.stats().file_errors, 1u);
  EXPECT_EQ(names_.size(), 0u);

  write("0 52:54:00:12:34:56 192.168.1.23 laptop *\n");
  EXPECT_TRUE(m.poll());
  EXPECT_EQ(names_.lookup({}, ip("192.168.1.23")), "laptop");
  EXPECT_FALSE(m.poll());  // unchanged: not read again
  EXPECT_EQ(m.stats().loads, 2u);

  // Malformed lines: one warning for this change, the good lines still count.
  write("0 52:54:00:12:34:56 192.168.1.23 laptop *\nnonsense here\n");
  EXPECT_TRUE(m.poll());
  EXPECT_FALSE(m.poll());
  EXPECT_EQ(warnings_.size(), 2u);
  EXPECT_EQ(m.stats().malformed, 1u);
  EXPECT_EQ(names_.lookup({}, ip("192.168.1.23")), "laptop");

  // Renamed (a rewrite of another size), then removed.
  write("0 52:54:00:12:34:56 192.168.1.23 laptop-2 *\n");
  EXPECT_TRUE(m.poll());
  EXPECT_EQ(names_.lookup(mac("52:54:00:12:34:56"), ip("fd00::5")), "laptop-2");
  std::filesystem::remove(path_);
  EXPECT_TRUE(m.poll());
  EXPECT_EQ(names_.size(), 0u);
  EXPECT_EQ(warnings_.size(), 3u);
}

TEST_F(LeaseMonitorTest, NotALeaseFileOrNotARegularFile) {
  write("<html></html>\n");
  std::string fifo = dir_.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  LeaseMonitor m(names_, {path_, fifo}, [this](const std::string& w) { warnings_.push_back(w); });
  EXPECT_TRUE(m.poll());  // returns: the FIFO is refused, never read
  EXPECT_EQ(warnings_.size(), 2u);
  EXPECT_EQ(m.stats().file_errors, 2u);
}

TEST_F(LeaseMonitorTest, ThreadPicksUpChanges) {
  LeaseMonitor m(names_, {path_}, [](const std::string&) {});
  m.poll();
  m.start(std::chrono::milliseconds(20));
  write("0 52:54:00:12:34:56 192.168.1.23 laptop *\n");
  for (int i = 0; i < 500 && names_.size() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(names_.lookup({}, ip("192.168.1.23")), "laptop");
}

}  // namespace
}  // namespace tripline
