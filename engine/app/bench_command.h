// `tripline bench FILE.pcap`: the user's own configuration and triggers on
// their own traffic. Loads the file once, replays it through the configured
// pipeline N times (fresh state each pass) beside a bare libpcap read of the
// same bytes, and, as replay_bench, the pipeline reading the file beside a
// libpcap read of the file; then once more with the per-stage profile on.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace tripline {

struct BenchOptions {
  std::string pcap;
  std::string config_path;
  unsigned repeat = 5;
  std::string json_path;    // "" = none, "-" = stdout
  std::string report_path;  // HTML
  bool quiet = false;       // no summary, no progress bar
};

// Adds the `bench` subcommand and its options to the command line.
CLI::App* add_bench_command(CLI::App& app, BenchOptions& opts);
// Runs it; returns the exit status. Throws ConfigError/ReplayError as `replay` does.
int run_bench(const BenchOptions& opts);

}  // namespace tripline
