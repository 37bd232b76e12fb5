// Reload without restart (SIGHUP, the one entry point: `tripline ctl reload`
// raises it in-process). Re-reads the configuration file and applies what may
// change while running (config_reload.h); flows, the DNS cache and capture
// sessions stay. A file that does not parse, a list or script that does not
// load, or an event log path that cannot be opened changes nothing.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config.h"

namespace tripline {

class EventWriter;
class Pipeline;
class Worker;

struct LiveReloadTarget {
  Pipeline& pipeline;
  EventWriter* events;  // null: no event log
  std::span<const std::unique_ptr<Worker>> workers;
};

struct LiveReloadResult {
  bool applied = false;
  std::string message;        // the one log line (why not, or what was applied)
  uint64_t max_pause_ns = 0;  // longest time a worker spent rebuilding its stages
  // Open flows the workers judge again (the policy or the script changed;
  // flows_rejudged), counted among the workers that picked the reload up.
  uint64_t rejudged = 0;
  // What the reload changed: the reloadable keys whose value differs, "rules"
  // and "zones", and what only the files at the same paths tell ("lua.script":
  // the script's code; "rule domain_list files"). Empty: nothing.
  std::vector<std::string> changed;
};

// Reads running->source again and applies it; `running` becomes the
// configuration now in effect. Waits up to `wait` for every worker to pick the
// new stages up (idle workers do within their 100 ms tick). Logs one line.
LiveReloadResult reload_live(std::shared_ptr<const Config>& running, LiveReloadTarget target,
                             std::chrono::milliseconds wait = std::chrono::seconds(5));

// Asks this process to reload: raises SIGHUP, which the live runtime takes
// (for the control socket's `reload`).
void request_reload();

}  // namespace tripline
