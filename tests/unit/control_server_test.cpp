// The control socket server: safe creation and removal, who may connect, and
// that slow, silent, huge or many clients get bounded treatment while a good
// client is still answered. Also run under ThreadSanitizer (tsan preset).
#include "control_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "capture_test_util.h"
#include "control_client.h"

namespace tripline {
namespace {

using namespace std::chrono_literals;
using capture_test::TempDir;

int connect_to(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until EOF or `limit`; returns what came.
std::string read_all(int fd, std::chrono::milliseconds limit = 3000ms) {
  timeval tv{static_cast<time_t>(limit.count() / 1000),
             static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct Server {
  explicit Server(ControlServerOptions opts) {
    server = std::make_unique<ControlServer>(std::move(opts), [this](const ControlRequest& r) {
      handled.fetch_add(1);
      return control_ok(nlohmann::json{{"cmd", r.cmd}});
    });
  }
  std::atomic<int> handled{0};
  std::unique_ptr<ControlServer> server;
};

ControlServerOptions options(const TempDir& dir) {
  ControlServerOptions o;
  o.path = dir.path() + "/control.sock";
  o.timeout = 300ms;
  o.max_clients = 4;
  return o;
}

TEST(ControlServer, AnswersAndRemovesItsSocketOnExit) {
  TempDir dir;
  auto opts = options(dir);
  {
    Server s(opts);
    struct stat st {};
    ASSERT_EQ(lstat(opts.path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    auto r = control_call(opts.path, "status", nlohmann::json::object(), 2000ms);
    EXPECT_TRUE(r["ok"]);
    EXPECT_EQ(r["result"]["cmd"], "status");
    auto bad = control_call(opts.path, "nonsense", nlohmann::json::object(), 2000ms);
    EXPECT_FALSE(bad["ok"]);
    EXPECT_EQ(s.server->stats().bad_requests.load(), 1u);
  }
  EXPECT_FALSE(std::filesystem::exists(opts.path));
}

TEST(ControlServer, NeverReplacesAFileThatIsNotAStaleSocket) {
  TempDir dir;
  auto opts = options(dir);
  { std::ofstream(opts.path) << "precious"; }
  EXPECT_THROW(Server s(opts), ControlError);
  std::ifstream in(opts.path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "precious");

  // A live socket (another daemon) is left alone too.
  auto live = options(dir);
  live.path = dir.path() + "/live.sock";
  Server first(live);
  EXPECT_THROW(Server second(live), ControlError);
  EXPECT_TRUE(control_call(live.path, "status", nlohmann::json::object(), 2000ms)["ok"]);
}

TEST(ControlServer, ReplacesAStaleSocketAndRefusesAMissingFolder) {
  TempDir dir;
  auto opts = options(dir);
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", opts.path.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    close(fd);  // the file stays, nobody listens: stale
  }
  Server s(opts);
  EXPECT_TRUE(control_call(opts.path, "status", nlohmann::json::object(), 2000ms)["ok"]);

  auto missing = options(dir);
  missing.path = dir.path() + "/no/such/folder.sock";
  try {
    Server m(missing);
    FAIL() << "a missing folder was accepted";
  } catch (const ControlError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST(ControlServer, PeerCheck) {
  const gid_t none[] = {0};
  EXPECT_TRUE(control_peer_allowed(0, 0, none, 0, 1000, std::nullopt));
  EXPECT_TRUE(control_peer_allowed(1000, 1000, none, 0, 1000, std::nullopt));
  EXPECT_FALSE(control_peer_allowed(1001, 1001, none, 0, 1000, std::nullopt));
  EXPECT_TRUE(control_peer_allowed(1001, 50, none, 0, 1000, gid_t{50}));
  const gid_t supplementary[] = {20, 50};
  EXPECT_TRUE(control_peer_allowed(1001, 1001, supplementary, 2, 1000, gid_t{50}));
  EXPECT_FALSE(control_peer_allowed(1001, 1001, supplementary, 2, 1000, gid_t{51}));
}

TEST(ControlServer, SilentHugeAndManyClientsDoNotStopIt) {
  TempDir dir;
  auto opts = options(dir);
  Server s(opts);
  // A client that connects and sends nothing is dropped at its timeout.
  int silent = connect_to(opts.path);
  ASSERT_GE(silent, 0);
  // One that sends 10 MB is refused after the limit, not read to the end.
  int huge = connect_to(opts.path);
  ASSERT_GE(huge, 0);
  std::thread sender([huge] {
    std::string chunk(65536, 'x');
    size_t sent = 0;
    while (sent < (size_t{10} << 20)) {
      ssize_t n = send(huge, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) break;  // the server closed: refused
      sent += static_cast<size_t>(n);
    }
  });
  // Meanwhile a good client is answered at once.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(control_call(opts.path, "status", nlohmann::json::object(), 2000ms)["ok"]);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 250ms);
  sender.join();
  EXPECT_EQ(s.server->stats().too_large.load(), 1u);
  std::string said = read_all(silent);
  EXPECT_TRUE(said.empty());  // dropped without an answer
  EXPECT_EQ(s.server->stats().timeouts.load(), 1u);
  close(silent);
  close(huge);

  // Many at once: beyond max_clients they are refused (counted), the rest served.
  std::vector<int> many;
  for (int i = 0; i < 20; ++i) many.push_back(connect_to(opts.path));
  std::this_thread::sleep_for(100ms);
  EXPECT_GE(s.server->stats().refused_busy.load(), 16u);
  for (int fd : many) close(fd);
  std::this_thread::sleep_for(400ms);  // the held ones time out
  EXPECT_TRUE(control_call(opts.path, "status", nlohmann::json::object(), 2000ms)["ok"]);
}

TEST(ControlServer, ManyClientsInParallelAreAllAnswered) {
  TempDir dir;
  auto opts = options(dir);
  opts.max_clients = 64;
  Server s(opts);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&] {
      for (int k = 0; k < 10; ++k)
        if (control_call(opts.path, "status", nlohmann::json::object(), 2000ms)["ok"]) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(s.handled.load(), 160);
}

}  // namespace
}  // namespace tripline
