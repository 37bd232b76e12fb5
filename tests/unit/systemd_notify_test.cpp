#include "systemd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tripline {
namespace {

// Plays systemd: a datagram socket named by NOTIFY_SOCKET for the test's life.
class FakeSystemd {
 public:
  explicit FakeSystemd(const char* watchdog_usec) {
    dir_ = std::filesystem::temp_directory_path() / ("tripline-notify-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "notify.sock").string();
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ::unlink(path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    if (watchdog_usec) {
      setenv("WATCHDOG_USEC", watchdog_usec, 1);
    } else {
      unsetenv("WATCHDOG_USEC");
    }
    unsetenv("WATCHDOG_PID");
  }
  ~FakeSystemd() {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    close(fd_);
    std::filesystem::remove_all(dir_);
  }
  // The next message, or "" when none arrives within a second.
  std::string next() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  bool nothing_pending() {
    char buf[16];
    return recv(fd_, buf, sizeof buf, MSG_DONTWAIT) < 0;
  }

 private:
  std::filesystem::path dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(SystemdNotifier, SendsReadyStatusWatchdogAndStopping) {
  FakeSystemd systemd("2000000");
  SystemdNotifier n;
  ASSERT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog(), std::chrono::microseconds(2000000));
  n.ready("queues 0..1: 0 packets/s, 0 packets");
  EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=queues 0..1: 0 packets/s, 0 packets");
  n.status("busy");
  EXPECT_EQ(systemd.next(), "STATUS=busy");
  n.watchdog_ping();
  EXPECT_EQ(systemd.next(), "WATCHDOG=1");
  n.stopping();
  EXPECT_EQ(systemd.next(), "STOPPING=1\nSTATUS=stopping");
}

TEST(SystemdNotifier, NoWatchdogPingsWithoutWatchdogSec) {
  FakeSystemd systemd(nullptr);
  SystemdNotifier n;
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog().count(), 0);
  n.watchdog_ping();
  EXPECT_TRUE(systemd.nothing_pending());
}

TEST(SystemdNotifier, DoesNothingOutsideSystemd) {
  unsetenv("NOTIFY_SOCKET");
  SystemdNotifier n;
  EXPECT_FALSE(n.enabled());
  n.ready("x");  // must not fail
  n.stopping();
}

TEST(ProgressWatch, NamesTheWorkersThatDidNotMove) {
  ProgressWatch w(3);
  uint64_t a[] = {5, 7, 9};
  EXPECT_TRUE(w.stalled(a).empty());  // the first reading is the baseline
  uint64_t b[] = {6, 7, 10};
  EXPECT_EQ(w.stalled(b), std::vector<size_t>{1});
  uint64_t c[] = {7, 8, 11};
  EXPECT_TRUE(w.stalled(c).empty());
  uint64_t d[] = {7, 8, 11};
  EXPECT_EQ(w.stalled(d), (std::vector<size_t>{0, 1, 2}));
}

TEST(PacketRateStatus, SaysRateAndTotal) {
  EXPECT_EQ(packet_rate_status(2000, 2.0, 12345, 0, 2),
            "queues 0..1: 1000 packets/s, 12345 packets");
}

}  // namespace
}  // namespace tripline
