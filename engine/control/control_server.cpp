#include "control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

namespace tripline {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxPeerGroups = 256;
constexpr int kBacklog = 64;
constexpr auto kRefusalLogEvery = std::chrono::seconds(10);

std::string errno_text(int err) { return std::strerror(err); }

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path)
    throw ControlError(path + ": socket path longer than " + std::to_string(sizeof a.sun_path - 1) +
                       " bytes");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// Makes room for the socket: nothing there, or a stale socket (nobody answers)
// of root or ours, which is removed. Anything else is an error and untouched.
void clear_stale_socket(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw ControlError(path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode))
    throw ControlError(path +
                       " exists and is not a socket: not replaced (remove it or set "
                       "[control] socket elsewhere)");
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) throw ControlError("control socket: " + errno_text(errno));
  sockaddr_un a = unix_address(path);
  int rc = connect(probe, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  int err = errno;
  close(probe);
  if (rc == 0 || err != ECONNREFUSED)
    throw ControlError(path +
                       ": another process answers on this socket (is tripline already "
                       "running?)");
  if (st.st_uid != 0 && st.st_uid != geteuid())
    throw ControlError(path + ": a stale socket of uid " + std::to_string(st.st_uid) +
                       ", not ours: not removed");
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    throw ControlError(path + ": cannot remove the stale socket: " + errno_text(errno));
}

void set_nonblocking_send_all(int fd, const std::string& line) {
  // Best effort, never blocks: a refusal fits a fresh socket's buffer.
  ssize_t n = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)n;
}

}  // namespace

bool control_peer_allowed(uid_t uid, gid_t gid, const gid_t* groups, size_t ngroups,
                          uid_t daemon_uid, std::optional<gid_t> group) {
  if (uid == 0 || uid == daemon_uid) return true;
  if (!group) return false;
  if (gid == *group) return true;
  return std::find(groups, groups + ngroups, *group) != groups + ngroups;
}

struct ControlServer::Conn {
  int fd = -1;
  ControlLineReader reader;
  std::string out;
  size_t sent = 0;
  bool writing = false;
  Clock::time_point deadline;
};

ControlServer::ControlServer(ControlServerOptions opts, Handler handler)
    : opts_(std::move(opts)), handler_(std::move(handler)) {
  const std::string& path = opts_.path;
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    throw ControlError(path + ": folder " + folder.string() +
                       " does not exist (create it first; systemd makes /run/tripline with "
                       "RuntimeDirectory=tripline)");
  sockaddr_un a = unix_address(path);
  clear_stale_socket(path);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw ControlError("control socket: " + errno_text(errno));
  auto fail = [&](const std::string& what) {
    int err = errno;
    close(listen_fd_);
    listen_fd_ = -1;
    throw ControlError(path + ": " + what + ": " + errno_text(err));
  };
  if (bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) fail("cannot bind");
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) fail("cannot stat the new socket");
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  // Until this chmod the mode is 0777 & ~umask: with any usual umask nobody
  // but us may write (connect) yet.
  if (chmod(path.c_str(), 0660) != 0) {
    unlink(path.c_str());
    fail("cannot set mode 0660");
  }
  if (opts_.group && chown(path.c_str(), static_cast<uid_t>(-1), *opts_.group) != 0) {
    unlink(path.c_str());
    fail("cannot give the socket to group " + std::to_string(*opts_.group) +
         " (the daemon must be root or in that group)");
  }
  if (listen(listen_fd_, kBacklog) != 0) {
    unlink(path.c_str());
    fail("cannot listen");
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    unlink(path.c_str());
    fail("eventfd");
  }
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() {
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
  }  // cannot fail on an eventfd short of overflow
  if (thread_.joinable()) thread_.join();
  close(wake_fd_);
  close(listen_fd_);
  struct stat st {};
  if (lstat(opts_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    unlink(opts_.path.c_str());
}

void ControlServer::refuse_peer(int fd, uid_t uid) {
  stats_.refused_peer.fetch_add(1, std::memory_order_relaxed);
  set_nonblocking_send_all(fd, control_error("permission denied: uid " + std::to_string(uid) +
                                             " is not root, the daemon's user or in its "
                                             "[control] group"));
  // Logged, but at most every few seconds: a refused client cannot flood the log.
  auto now = Clock::now();
  if (now - last_refusal_log_ >= kRefusalLogEvery) {
    spdlog::warn(
        "control socket: refused a connection from uid {} ({} more refused since the "
        "last message)",
        uid, refusals_unlogged_);
    last_refusal_log_ = now;
    refusals_unlogged_ = 0;
  } else {
    ++refusals_unlogged_;
  }
}

void ControlServer::run() {
  std::vector<Conn> conns;
  conns.reserve(opts_.max_clients);
  std::vector<pollfd> fds;
  std::vector<char> buf(16384);
  const uid_t me = geteuid();
  auto close_conn = [&](size_t i) {
    close(conns[i].fd);
    conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
  };
  auto answer = [&](Conn& c, std::string line) {
    c.out = std::move(line);
    c.sent = 0;
    c.writing = true;
    shutdown(c.fd, SHUT_RD);
  };
  for (;;) {
    auto now = Clock::now();
    int wait_ms = 1000;
    for (const Conn& c : conns) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
      wait_ms = static_cast<int>(std::clamp<int64_t>(left + 1, 0, wait_ms));
    }
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Conn& c : conns)
      fds.push_back({c.fd, static_cast<short>(c.writing ? POLLOUT : POLLIN), 0});
    int n = poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("control socket: poll failed: {}; serving stops", errno_text(errno));
      break;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) break;
    if (opts_.tick) opts_.tick();
    now = Clock::now();
    // Connections first (their pollfd indices are 2.. in order), then new ones.
    for (size_t i = conns.size(); i-- > 0;) {
      Conn& c = conns[i];
      short rev = n > 0 ? fds[i + 2].revents : 0;
      if (rev == 0) continue;
      if (!c.writing) {
        ssize_t got = recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        auto st = got > 0 ? c.reader.feed(std::string_view(buf.data(), static_cast<size_t>(got)))
                          : c.reader.finish();
        if (got < 0) {
          close_conn(i);
          continue;
        }
        if (st == ControlLineReader::State::TooLarge) {
          stats_.too_large.fetch_add(1, std::memory_order_relaxed);
          answer(c, control_error("request larger than " + std::to_string(opts_.max_request) +
                                  " bytes"));
        } else if (st == ControlLineReader::State::Complete) {
          if (c.reader.line().empty() && got == 0) {  // connected and closed: nothing to say
            close_conn(i);
            continue;
          }
          ControlParse p = parse_control_request(c.reader.line());
          if (!p.request) {
            stats_.bad_requests.fetch_add(1, std::memory_order_relaxed);
            answer(c, control_error(p.error));
          } else {
            std::string out;
            try {
              out = handler_(*p.request);
            } catch (const std::exception& e) {
              out = control_error(std::string("internal error: ") + e.what());
            }
            answer(c, std::move(out));
          }
        }
        if (!c.writing) continue;
      }
      // Writing: as much as the socket takes now; the rest when it says so.
      bool broken = false;
      while (c.sent < c.out.size()) {
        ssize_t put =
            send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (put < 0) {
          broken = errno != EAGAIN && errno != EINTR;
          break;
        }
        c.sent += static_cast<size_t>(put);
      }
      if (broken || c.sent == c.out.size()) close_conn(i);
    }
    // Expired connections: a client that sends nothing, or never reads.
    now = Clock::now();
    for (size_t i = conns.size(); i-- > 0;) {
      if (now < conns[i].deadline) continue;
      stats_.timeouts.fetch_add(1, std::memory_order_relaxed);
      close_conn(i);
    }
    if (n <= 0 || !(fds[1].revents & POLLIN)) continue;
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;  // EAGAIN: all taken; other errors: next round
      ucred cred{};
      socklen_t len = sizeof cred;
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        close(fd);
        continue;
      }
      gid_t groups[kMaxPeerGroups];
      socklen_t glen = sizeof groups;
      size_t ngroups = 0;
      if (opts_.group && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
        ngroups = glen / sizeof(gid_t);
      if (!control_peer_allowed(cred.uid, cred.gid, groups, ngroups, me, opts_.group)) {
        refuse_peer(fd, cred.uid);
        close(fd);
        continue;
      }
      if (conns.size() >= opts_.max_clients) {
        stats_.refused_busy.fetch_add(1, std::memory_order_relaxed);
        set_nonblocking_send_all(fd, control_error("busy: too many control connections"));
        close(fd);
        continue;
      }
      stats_.connections.fetch_add(1, std::memory_order_relaxed);
      Conn c{fd, ControlLineReader(opts_.max_request), {}, 0, false, now + opts_.timeout};
      conns.push_back(std::move(c));
    }
  }
  for (Conn& c : conns) close(c.fd);
}

}  // namespace tripline
