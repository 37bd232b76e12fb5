// The replay source: reads a pcap or pcapng file with libpcap and drives one
// Worker with the packets' own timestamps as the clock. Deterministic.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "config.h"
#include "counters.h"
#include "event_writer.h"
#include "stage.h"

namespace tripline {

class ReplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ReplayOptions {
  std::string pcap_path;
  FILE* verdicts = nullptr;  // one JSON line per frame when set
  EventWriter* events = nullptr;
};

struct ReplayResult {
  CounterSnapshot counters;
  uint64_t frames = 0;
  double seconds = 0;  // wall time spent reading and judging
};

// Throws ReplayError when the file cannot be opened or its link type is not
// supported. A file truncated mid-record ends the replay with what was read
// (counted as decode error link_truncated for the partial frame) and a warning.
ReplayResult replay_pcap(std::shared_ptr<const Config> cfg, const ReplayOptions& opts);

}  // namespace tripline
