// Text from outside (names in packets and block lists, script output) made
// safe to echo into a log line: control bytes, C1 controls and invalid UTF-8
// become \xNN (newline \n, tab \t, backslash \\), so nothing read from the
// network can start a forged log line or send escape sequences to a terminal.
#pragma once

#include <string>
#include <string_view>

namespace tripline {

// Appends the escaped form of `text` to `out`.
void append_escaped_for_log(std::string& out, std::string_view text);
std::string escape_for_log(std::string_view text);
// True when escape_for_log would change nothing.
bool log_safe(std::string_view text);

}  // namespace tripline
