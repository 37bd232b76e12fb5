#include "stage_env.h"

#include "event_writer.h"

namespace tripline {

StageEnv::StageEnv(Counters& counters, EventWriter* events, const Decision& default_decision,
                   unsigned worker_index)
    : counters_(counters),
      events_(events),
      default_decision_(default_decision),
      worker_index_(worker_index),
      eve_(worker_index) {}

void StageEnv::emit(std::string line) {
  if (!events_) return;
  if (events_->submit(std::move(line))) {
    counters_.events_written.add();
  } else {
    counters_.events_dropped.add();
  }
}

}  // namespace tripline
