// The live daemon: binds one NFQUEUE per worker, runs each worker on its own
// thread, takes signals in the calling thread (TERM/INT stop, USR1 prints the
// counters, HUP reloads the configuration) and shuts down in order: queues, flows, events, DNS
// state.
#pragma once

#include <memory>

#include "config.h"
#include "version.h"

namespace tripline {

class EventWriter;
class Pipeline;

// Runs until SIGTERM/SIGINT; returns the process exit code.
int run_live(std::shared_ptr<const Config> cfg);

// The configured event log ([log] events), or null when there is none.
std::unique_ptr<EventWriter> open_events(const Config& cfg);
// One line of capture writer statistics on stderr (nothing without capture).
void print_capture_summary(Pipeline& pipeline);

}  // namespace tripline
