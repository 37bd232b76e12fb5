// What a reload (SIGHUP) may change in the running configuration: the lists,
// [egress] mode/action/allow, [[rule]]s and zones, [dns] TTL bounds and block
// mode, [lua], [capture] limits and the event log path. Every other key needs
// a restart: a reload keeps its running value and names it in a warning.
#pragma once

#include <string>
#include <vector>

#include "config.h"

namespace tripline {

struct ReloadPlan {
  // What runs after the reload: the new file's reloadable keys over the
  // running configuration's restart-only ones.
  Config effective;
  // Restart-only keys whose value in the new file differs ("queue.count"):
  // they keep their running values.
  std::vector<std::string> restart_keys;
  // Reloadable keys whose value differs ("egress.mode", "lua.script", ...;
  // "rules" and "zones" when the [[rule]]s or [zones] differ).
  std::vector<std::string> changed;
};

ReloadPlan plan_reload(const Config& running, const Config& loaded);

}  // namespace tripline
