#include "control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control_protocol.h"
#include "control_server.h"

namespace tripline {
namespace {

// Responses are bounded by what the daemon sends (flows: kMaxControlFlows).
constexpr size_t kMaxResponseBytes = size_t{64} << 20;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

nlohmann::json control_call(const std::string& path, std::string_view cmd,
                            const nlohmann::json& args, std::chrono::milliseconds timeout) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) throw ControlError(path + ": socket path too long");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  Fd s{socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw ControlError(std::string("socket: ") + std::strerror(errno));
  if (connect(s.fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    if (err == ENOENT || err == ECONNREFUSED)
      throw ControlError(path +
                         ": no tripline daemon answers here (is it running? is [control] "
                         "socket set elsewhere? use --socket)");
    if (err == EACCES || err == EPERM)
      throw ControlError(path +
                         ": permission denied (run as root, the daemon's user or a member "
                         "of its [control] group)");
    throw ControlError(path + ": " + std::strerror(err));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto wait = [&](short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) throw ControlError(path + ": the daemon did not answer in time");
    pollfd p{s.fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left));
    if (n == 0) throw ControlError(path + ": the daemon did not answer in time");
  };
  const std::string line = control_request_line(cmd, args);
  size_t sent = 0;
  while (sent < line.size()) {
    wait(POLLOUT);
    ssize_t n = send(s.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) break;  // the daemon may have refused us already: read why
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[65536];
  for (;;) {
    wait(POLLIN);
    ssize_t n = recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > kMaxResponseBytes) throw ControlError(path + ": answer too large");
    if (in.back() == '\n') break;
  }
  if (in.empty()) throw ControlError(path + ": the daemon closed the connection without an answer");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ok"))
    throw ControlError(path + ": the answer is not the control protocol");
  return j;
}

}  // namespace tripline
