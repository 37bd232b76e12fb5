// `tripline ctl ...`: asks the running daemon through its control socket
// (status, flows, dns lookup/flush, capture list/start/stop, reload) and
// prints the answer for people, or as JSON with --json.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace tripline {

struct CtlOptions {
  std::string socket;  // default: [control] socket's default
  bool json = false;
  unsigned top = 20;
  std::string host;
  std::string target;  // dns lookup/flush: NAME or IP
  std::string capture_scope, capture_host, capture_id;
  uint64_t seconds = 0;
  unsigned timeout_ms = 5000;
};

// Adds `ctl` and its subcommands to the command line.
CLI::App* add_ctl_command(CLI::App& app, CtlOptions& opts);
// Runs the chosen one; exit status 0 on an ok answer, 1 on an error answer
// or when the daemon cannot be reached (message on stderr).
int run_ctl(const CLI::App& ctl, const CtlOptions& opts);

}  // namespace tripline
