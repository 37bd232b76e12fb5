// What the configuration turns into at start: the shared services (later: DNS
// cache, rule sets, capture writer) and the stages every worker gets. Built
// once from an immutable Config; live and replay use the same Pipeline.
#pragma once

#include <memory>
#include <string>

#include "config.h"
#include "replay.h"

namespace tripline {

class Pipeline {
 public:
  // Loads everything the config names (lists, scripts, state); throws
  // ConfigError with file:line context on bad input.
  explicit Pipeline(std::shared_ptr<const Config> cfg);
  ~Pipeline();

  // Adds this pipeline's stages to a worker.
  StageFactory stage_factory();
  // Human-readable summary for `tripline check`.
  std::string describe() const;
  // Saves state (e.g. the DNS cache) at exit.
  void shutdown();

 private:
  std::shared_ptr<const Config> cfg_;
};

}  // namespace tripline
