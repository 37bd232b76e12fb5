// What a configuration takes before the daemon starts: the memory it allocates
// at start (flows x workers, receive buffers, capture rings, DNS cache, Lua),
// and whether this machine can give it and the files it needs exist.
// `tripline check` prints the plan; `check` and `run` refuse a configuration
// that cannot work, naming the key and its line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace tripline {

struct MemoryItem {
  std::string what;    // "flows"
  std::string key;     // the key that sizes it most: "flows.capacity"
  std::string detail;  // "65536 x 4 workers"
  uint64_t bytes = 0;
};

struct StartupPlan {
  std::vector<MemoryItem> items;  // what tripline allocates (user space)
  uint64_t total = 0;             // their sum
  uint64_t kernel_bytes = 0;      // netlink socket buffers: kernel memory, used as queues back up
  uint64_t machine_bytes = 0;     // physical memory of this machine (0 = unknown)

  // Lines for `tripline check`.
  std::string describe() const;
};

// Sizes are estimates from the configuration, within a few percent of what
// the tables allocate. `machine_bytes` 0 reads /proc (sysconf).
StartupPlan plan_startup(const Config& cfg, uint64_t machine_bytes = 0);

// Throws ConfigError ("file:line: key: what") when the configuration cannot
// work here: it needs more memory than the machine has, or the folder of the
// event log does not exist.
void check_startup(const Config& cfg, const StartupPlan& plan);

}  // namespace tripline
