// The control socket's wire format: one JSON request line in, one JSON
// response line out, per connection. Versioned ("v"); requests are checked
// here (command, argument names and types, size) before anything acts on them.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tripline {

inline constexpr int kControlProtocolVersion = 1;
// A request is a few hundred bytes; anything past this is refused unread.
inline constexpr size_t kMaxControlRequestBytes = 64 * 1024;
// `flows --top N` answers at most this many flows.
inline constexpr unsigned kMaxControlFlows = 10000;

// A request that passed the checks: `cmd` is a known command and `args`
// holds only its arguments, each of the right type (absent ones omitted).
struct ControlRequest {
  std::string cmd;
  nlohmann::json args = nlohmann::json::object();
};

struct ControlParse {
  std::optional<ControlRequest> request;
  std::string error;  // why not, when request is empty
};

// Parses and checks one request (without its line end). Never throws.
ControlParse parse_control_request(std::string_view text);

// The request line for a command (the client's side), with "\n".
std::string control_request_line(std::string_view cmd, const nlohmann::json& args);

// Response lines, with "\n": {"v":1,"ok":true,"result":...} or
// {"v":1,"ok":false,"error":"..."}.
std::string control_ok(const nlohmann::json& result);
std::string control_error(std::string_view message);

// Collects one request line from the bytes a connection sends, refusing to
// hold more than `limit` bytes.
class ControlLineReader {
 public:
  enum class State { NeedMore, Complete, TooLarge };
  explicit ControlLineReader(size_t limit = kMaxControlRequestBytes) : limit_(limit) {}
  // Adds received bytes; Complete once a '\n' arrived (bytes after it are ignored).
  State feed(std::string_view bytes);
  // The peer closed its sending side: what came so far is the request.
  State finish();
  State state() const { return state_; }
  std::string_view line() const { return buf_; }

 private:
  size_t limit_;
  std::string buf_;
  State state_ = State::NeedMore;
};

}  // namespace tripline
