#include "stage_env.h"

#include "event_writer.h"

namespace tripline {

StageEnv::StageEnv(Counters& counters, EventWriter* events, const Decision& default_decision,
                   unsigned worker_index)
    : counters_(counters),
      events_(events),
      default_decision_(default_decision),
      worker_index_(worker_index),
      eve_(worker_index) {
  // The writer thread counts this worker's lines as written or lost when it
  // knows; only refusals at submit are counted here.
  if (events_)
    events_source_ = events_->attach({&counters_.events_written, &counters_.events_lost});
}

StageEnv::~StageEnv() {
  if (events_) events_->detach(events_source_);
}

void StageEnv::emit(std::string line) {
  if (!events_) return;
  if (!events_->submit(std::move(line), events_source_)) counters_.events_dropped.add();
}

}  // namespace tripline
