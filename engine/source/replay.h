// The replay source: reads a pcap or pcapng file with libpcap and drives one
// Worker with the packets' own timestamps as the clock. Deterministic.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "config.h"
#include "counters.h"
#include "event_writer.h"
#include "worker.h"

namespace tripline {

class ReplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

// A capture file opened for libpcap to read through a stdio buffer of
// kPcapReadBufferBytes. libpcap's own open reads through the default buffer
// (st_blksize, 4 KiB: a read(2) every few packets); on a gateway's pcap
// (680-byte packets on average) those calls were a third of a bare read
// loop's time. The buffer is released after the stream that reads through it.
struct BufferedPcap {
  std::unique_ptr<char[]> buffer;
  std::unique_ptr<pcap_t, PcapCloser> pcap;
};
constexpr size_t kPcapReadBufferBytes = size_t{1} << 20;
// pcap is null and errbuf (PCAP_ERRBUF_SIZE) says why when the file cannot
// be opened or read as a capture. "-" is standard input, as libpcap reads it.
BufferedPcap open_pcap_buffered(const std::string& path, char* errbuf);

struct ReplayOptions {
  std::string pcap_path;
  FILE* verdicts = nullptr;  // one JSON line per frame when set
  EventWriter* events = nullptr;
  // When set, the pcap is read from these bytes (a file loaded once, as
  // `tripline bench` does); pcap_path then only names it in messages.
  std::span<const uint8_t> memory;
  // When set, the worker charges its time to stages here (`tripline bench`).
  StageProfile* profile = nullptr;
  // When set, called every kReplayProgressFrames frames (progress, sampling).
  std::function<void(uint64_t frames, const Worker& worker)> progress;
};
constexpr uint64_t kReplayProgressFrames = 4096;

struct ReplayResult {
  CounterSnapshot counters;
  uint64_t frames = 0;
  double seconds = 0;      // wall time spent reading and judging
  double cpu_seconds = 0;  // the same span in this thread's CPU time
  bool truncated = false;  // the file ended in the middle of a record
  std::string error;       // libpcap's words when truncated
};

// Throws ReplayError when the file cannot be opened or its link type is not
// supported. A file that ends mid-record ends the replay with what was read;
// result.truncated says so. The micro-second/nano-second pcap formats and
// pcapng are all read (libpcap).
ReplayResult replay_pcap(std::shared_ptr<const Config> cfg, const ReplayOptions& opts,
                         const StageFactory& stages = {});

}  // namespace tripline
