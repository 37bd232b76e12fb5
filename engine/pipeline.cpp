#include "pipeline.h"

#include <fmt/format.h>

#include "worker.h"

namespace tripline {

Pipeline::Pipeline(std::shared_ptr<const Config> cfg) : cfg_(std::move(cfg)) {}

Pipeline::~Pipeline() = default;

StageFactory Pipeline::stage_factory() {
  return [](Worker&) {};
}

std::string Pipeline::describe() const {
  const Config& c = *cfg_;
  std::string inside;
  for (const auto& p : c.network.inside.prefixes())
    inside += (inside.empty() ? "" : ", ") + p.to_string();
  return fmt::format(
      "queues        {}..{} (fail_open {}, copy_range {}, default_verdict {})\n"
      "inside        {}\n"
      "flows         capacity {} per worker\n"
      "events        {}\n",
      c.queue.first, c.queue.first + c.queue.count - 1, c.queue.fail_open, c.queue.copy_range,
      to_string(c.queue.default_verdict), inside, c.flows.capacity,
      c.log.events.empty() ? "(none)" : c.log.events);
}

void Pipeline::shutdown() {}

}  // namespace tripline
