// The control socket: a Unix stream socket served by one thread of its own
// (a poll loop, off the packet path). Only root, the daemon's own user and
// one configured group may connect (file mode 0660 plus an SO_PEERCRED
// check); connections are bounded in number, time and request size, so a
// slow or hostile client costs the daemon nothing but a slot.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "control_protocol.h"

namespace tripline {

class ControlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ControlServerOptions {
  std::string path;
  std::optional<gid_t> group;  // may connect besides root and the daemon's uid
  unsigned max_clients = 16;
  std::chrono::milliseconds timeout{2000};  // per connection: request in, answer out
  size_t max_request = kMaxControlRequestBytes;
  std::function<void()> tick;  // called on the server thread at least once a second
};

struct ControlServerStats {
  std::atomic<uint64_t> connections{0};   // accepted and served (or tried)
  std::atomic<uint64_t> refused_peer{0};  // not root, not our uid, not the group
  std::atomic<uint64_t> refused_busy{0};  // max_clients already connected
  std::atomic<uint64_t> bad_requests{0};  // not JSON, unknown command, bad argument
  std::atomic<uint64_t> too_large{0};     // request past max_request
  std::atomic<uint64_t> timeouts{0};      // request or answer not through in time
};

// Who may connect: root, `daemon_uid`, or a member (primary or supplementary
// group) of `group`.
bool control_peer_allowed(uid_t uid, gid_t gid, const gid_t* groups, size_t ngroups,
                          uid_t daemon_uid, std::optional<gid_t> group);

class ControlServer {
 public:
  // Takes a checked request, returns the response line (control_ok/_error).
  // Runs on the server thread; may block briefly (asking workers, bounded).
  using Handler = std::function<std::string(const ControlRequest&)>;

  // Creates the socket (mode 0660, the group if given) and starts serving.
  // Throws ControlError when the folder is missing, the path holds anything
  // but a stale socket (a live socket: another daemon answers there; any other
  // file is never replaced), or the socket cannot be made.
  ControlServer(ControlServerOptions opts, Handler handler);
  // Stops the thread, closes every connection, removes the socket file (only
  // if it is still the one we made).
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const ControlServerStats& stats() const { return stats_; }
  const std::string& path() const { return opts_.path; }

 private:
  struct Conn;
  void run();
  void refuse_peer(int fd, uid_t uid);

  ControlServerOptions opts_;
  Handler handler_;
  ControlServerStats stats_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  uint64_t refusals_unlogged_ = 0;
  std::thread thread_;
};

}  // namespace tripline
