// The capture writer: workers hand packet records to one writer thread through
// a preallocated lock-free byte ring per worker, and the thread writes them to
// pcapng files (raw IP, nanosecond stamps, comments, the names the DNS cache
// knew) or classic pcap. A full ring drops and counts; a worker never waits on
// disk.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config.h"
#include "counter.h"
#include "ip_address.h"
#include "timestamp.h"

namespace tripline {

// CaptureConfig (the [capture] section) is in config.h.

struct CaptureWriterStats {
  uint64_t records_written = 0;  // packets in a file (counted once flushed to it)
  uint64_t records_dropped = 0;  // refused by a full ring, or not written: unknown/failed
                                 // session, write error, disk full (the lost ones)
  uint64_t files_opened = 0;
  uint64_t files_deleted = 0;  // by the max_files rotation (earlier runs' recordings too)
  uint64_t write_errors = 0;   // open/write/flush failures; each ends that session's file
};

// Test seams; the daemon uses the defaults.
struct CaptureWriterOptions {
  // The writer thread starts without draining until resume(): lets tests fill
  // a ring deterministically.
  bool start_paused = false;
  // Opens a new capture file for writing ("wb"); null with errno set on
  // failure. Default: create `path` exclusively. Tests may return /dev/full.
  std::function<FILE*(const std::string& path)> open_file;
  // After a write error no new file is opened for this long (a full disk).
  std::chrono::milliseconds retry_after{1000};
  // pcapng only: the names known for an address (the DNS cache's, most recent
  // first), written into the file's name resolution blocks. Called by the
  // writer thread, once per address per file (again at the file's end for an
  // address that had none); must be thread-safe. Null: no names.
  std::function<std::vector<std::string>(const IpAddr&)> names;
  // pcapng only: each worker's interface name (e.g. "nfqueue0"), by worker
  // index; missing ones are "worker<N>".
  std::vector<std::string> interfaces;
};

class CaptureWriter {
 public:
  // Creates cfg.dir if missing. max_files counts the recordings in cfg.dir
  // (tripline's file names only, earlier runs' too): beyond it the oldest are
  // deleted at start and before each new file. Throws std::runtime_error naming the problem
  // when the directory cannot be created or written, when workers is 0, or
  // when the ring cannot hold two packets of snaplen bytes.
  CaptureWriter(const CaptureConfig& cfg, unsigned workers, CaptureWriterOptions opts = {});
  ~CaptureWriter();  // drains every ring (also when paused), closes the files, joins
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  // Producer side: worker `w` must be the only caller for ring `w`. These never
  // block and never allocate; false (and a counted drop) when the ring is full.
  // Session ids are chosen by the caller, unique per worker and never reused.
  //
  // open: starts the file <dir>/tripline-<YYYYmmddTHHMMSSZ of now>-w<w>-s<session>[-<label>].pcapng
  // (.pcap in the pcap format), label reduced to [A-Za-z0-9._-] (others become
  // '_') and at most 48 chars. pcapng: `comment` (at most kMaxSectionComment
  // bytes) is the section comment: why the file exists.
  bool open(unsigned w, uint64_t session, std::string_view label, Timestamp now,
            std::string_view comment = {});
  // The path open() with these arguments writes to (unless that name is
  // taken, when it adds ".1", ".2", ...): what an alert names in capture_file.
  std::string path_of(unsigned w, uint64_t session, std::string_view label, Timestamp now) const;
  // One raw IP packet, cut to snaplen. orig_len is the packet's length on the
  // wire when the bytes are already truncated (0: ip_packet.size()). pcapng:
  // `comment` (at most kMaxPacketComment bytes) is the packet's comment.
  bool write(unsigned w, uint64_t session, Timestamp ts, std::span<const uint8_t> ip_packet,
             uint32_t orig_len = 0, std::string_view comment = {});
  static constexpr size_t kMaxSectionComment = 1024;
  static constexpr size_t kMaxPacketComment = 256;
  bool close(unsigned w, uint64_t session);

  // Blocks until everything enqueued before the call is written and fflushed.
  // While paused it waits for resume().
  void flush();
  // Reload: the max_files rotation from the next new file on. Any thread.
  void set_max_files(uint32_t max_files);
  void resume();

  // Where the writer thread counts worker w's records it could not write
  // (null: none). Set before the worker runs; null again before the counter goes.
  void attach_lost(unsigned w, Counter* lost);

  CaptureWriterStats stats() const;
  // Paths of the files this writer made that still exist, oldest first.
  std::vector<std::string> files() const;
  // Bytes a record of an n-byte packet takes in a ring (for sizing rings).
  static uint32_t record_bytes(uint32_t n);
  unsigned workers() const { return static_cast<unsigned>(rings_.size()); }

 private:
  struct Ring;
  struct Impl;  // writer-thread state: open files, the file list, stats (capture_writer.cpp)

  bool push(unsigned w, uint8_t type, uint64_t session, Timestamp ts,
            std::span<const uint8_t> bytes, uint32_t orig_len, bool is_label,
            std::string_view note);
  void wake_if_sleeping();
  void run();

  CaptureConfig cfg_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::unique_ptr<Impl> impl_;

  // Control between callers and the writer thread. Producers only touch
  // sleeping_ and notify cv_ (no lock); nobody holds mu_ while writing files.
  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the writer
  std::condition_variable done_cv_;  // wakes flush() callers
  std::atomic<bool> sleeping_{false};
  bool stop_ = false;
  bool paused_ = false;
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;

  std::thread thread_;
};

}  // namespace tripline
