#pragma once
// Reading a ruleset listing (nft, iptables) for `check` and the queue
// accounting: a command's standard output, split into words.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tripline {

// Output of a shell command, its stderr discarded; nullopt when it cannot be
// run or exits non-zero.
std::optional<std::string> command_output(const std::string& cmd);

// The whitespace-separated words of one line of such output.
std::vector<std::string> words(std::string_view line);

}  // namespace tripline
