#include "control_protocol.h"

#include <algorithm>
#include <array>

namespace tripline {
namespace {

enum class ArgType { String, Unsigned };

struct ArgSpec {
  const char* name;
  ArgType type;
  bool required;
};

struct CommandSpec {
  const char* cmd;
  std::array<ArgSpec, 2> args;  // unused slots have a null name
};

// Every command and its arguments.
constexpr CommandSpec kCommands[] = {
    {"status", {}},
    {"flows", {{{"top", ArgType::Unsigned, false}, {"host", ArgType::String, false}}}},
    {"dns.lookup", {{{"target", ArgType::String, true}, {}}}},
    {"dns.flush", {{{"target", ArgType::String, false}, {}}}},
    {"capture.list", {}},
    {"capture.start", {{{"host", ArgType::String, true}, {"seconds", ArgType::Unsigned, false}}}},
    {"capture.stop", {{{"id", ArgType::String, true}, {}}}},
    {"reload", {}},
};

std::string known_commands() {
  std::string out;
  for (const auto& c : kCommands) {
    if (!out.empty()) out += ", ";
    out += c.cmd;
  }
  return out;
}

ControlParse fail(std::string why) { return ControlParse{std::nullopt, std::move(why)}; }

}  // namespace

ControlParse parse_control_request(std::string_view text) {
  if (text.size() > kMaxControlRequestBytes)
    return fail("request larger than " + std::to_string(kMaxControlRequestBytes) + " bytes");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("request is not valid JSON");
  if (!j.is_object()) return fail("request must be a JSON object");
  auto v = j.find("v");
  if (v == j.end()) return fail("request has no protocol version \"v\"");
  if (!v->is_number_integer() || v->get<int64_t>() != kControlProtocolVersion)
    return fail("protocol version " + v->dump() + " is not supported (this daemon speaks " +
                std::to_string(kControlProtocolVersion) + ")");
  auto c = j.find("cmd");
  if (c == j.end() || !c->is_string()) return fail("request has no \"cmd\" string");
  const std::string cmd = c->get<std::string>();
  const CommandSpec* spec = nullptr;
  for (const auto& s : kCommands)
    if (cmd == s.cmd) spec = &s;
  if (!spec) return fail("unknown command \"" + cmd + "\" (known: " + known_commands() + ")");

  ControlRequest req;
  req.cmd = cmd;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "v" || it.key() == "cmd") continue;
    auto arg = std::find_if(spec->args.begin(), spec->args.end(),
                            [&](const ArgSpec& a) { return a.name && it.key() == a.name; });
    if (arg == spec->args.end()) return fail(cmd + ": unknown argument \"" + it.key() + "\"");
    if (arg->type == ArgType::String && !it->is_string())
      return fail(cmd + ": \"" + it.key() + "\" must be a string");
    if (arg->type == ArgType::Unsigned && !it->is_number_unsigned())
      return fail(cmd + ": \"" + it.key() + "\" must be a number >= 0");
    req.args[it.key()] = *it;
  }
  for (const ArgSpec& a : spec->args)
    if (a.name && a.required && !req.args.contains(a.name))
      return fail(cmd + ": missing argument \"" + a.name + "\"");
  return ControlParse{std::move(req), {}};
}

std::string control_request_line(std::string_view cmd, const nlohmann::json& args) {
  nlohmann::json j = args.is_object() ? args : nlohmann::json::object();
  j["v"] = kControlProtocolVersion;
  j["cmd"] = cmd;
  return j.dump() + "\n";
}

std::string control_ok(const nlohmann::json& result) {
  nlohmann::json j{{"v", kControlProtocolVersion}, {"ok", true}, {"result", result}};
  // Names come from DNS answers: replace bytes that are not UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string control_error(std::string_view message) {
  nlohmann::json j{{"v", kControlProtocolVersion}, {"ok", false}, {"error", message}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

ControlLineReader::State ControlLineReader::feed(std::string_view bytes) {
  if (state_ != State::NeedMore) return state_;
  size_t nl = bytes.find('\n');
  std::string_view part = nl == std::string_view::npos ? bytes : bytes.substr(0, nl);
  if (buf_.size() + part.size() > limit_) {
    buf_.clear();
    return state_ = State::TooLarge;
  }
  buf_.append(part);
  if (nl != std::string_view::npos) state_ = State::Complete;
  return state_;
}

ControlLineReader::State ControlLineReader::finish() {
  if (state_ == State::NeedMore) state_ = State::Complete;
  return state_;
}

}  // namespace tripline
