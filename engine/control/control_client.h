// The client side of the control socket (`tripline ctl`): one request line
// out, one response line back, bounded in time.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tripline {

// Sends `cmd` with `args` to the socket at `path` and returns the parsed
// response object ({"v":1,"ok":...}). Throws ControlError (control_server.h)
// with a clear message: no socket there, permission denied, no answer in time,
// an answer that is not the protocol.
nlohmann::json control_call(const std::string& path, std::string_view cmd,
                            const nlohmann::json& args, std::chrono::milliseconds timeout);

}  // namespace tripline
