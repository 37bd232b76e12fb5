// Per-worker capture sessions: decides which packets go to which capture file
// (a flow, a host, or everything, for a bounded time/size) and keeps the last
// few packets so a session can start with what came just before its trigger.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "capture_writer.h"
#include "counter.h"
#include "decode.h"
#include "flow_table.h"
#include "ip_address.h"
#include "timestamp.h"
#include "verdict.h"

namespace tripline {

enum class CaptureScope : uint8_t { Flow, Host, All };
// "flow", "host", "all"
const char* to_string(CaptureScope s);

// What a recorder counts, in counters its owner keeps (the worker's set).
struct CaptureCounters {
  Counter& sessions_started;
  Counter& sessions_refused;
  Counter& packets;  // recorded packets handed to the writer's ring
  Counter& dropped;  // packets the full ring refused
  // Packets the writer thread could not put in a file (disk full, write
  // error, no file): counted by the writer thread only.
  Counter& lost;
};

struct CaptureRequest {
  CaptureScope scope = CaptureScope::Flow;
  Timestamp duration = 0;    // 0 = config default
  uint64_t max_packets = 0;  // 0 = config default
  uint64_t max_bytes = 0;    // 0 = config default; captured bytes of the packets
  std::string_view label;    // e.g. the trigger's name; may be empty
  // For the recording's comments (pcapng): what started it ("rule NAME",
  // "lua SCRIPT") and the signature of the alert it raised, if any.
  std::string_view trigger;
  std::string_view signature;
};

// Single-threaded: owned and called by one worker, which is the only producer
// of ring `worker` of the writer. The writer must outlive the recorder.
//
// Memory is fixed at construction: max_sessions session slots and a
// pre-trigger ring of pre_packets slots of kPreSlotBytes (or snaplen, if
// smaller) bytes each, i.e. 32 x 2048 = 64 KiB with the defaults. A packet
// longer than a slot is kept truncated, its original length recorded.
class CaptureRecorder {
 public:
  static constexpr uint32_t kPreSlotBytes = 2048;

  CaptureRecorder(CaptureWriter& writer, unsigned worker, const CaptureConfig& cfg,
                  CaptureCounters counters);
  ~CaptureRecorder();  // shutdown()
  CaptureRecorder(const CaptureRecorder&) = delete;
  CaptureRecorder& operator=(const CaptureRecorder&) = delete;

  // Starts a session triggered by packet `pkt` of `flow`. Scope Flow captures
  // that flow (by id), Host everything to or from the flow's client
  // (flow.src()), All everything. The session first gets the pre-trigger
  // packets that match it, oldest first; the trigger packet itself follows
  // through on_packet. Returns the session id (never 0; ids are unique per
  // recorder), counting capture_sessions_started; or 0, counting
  // capture_sessions_refused, when max_sessions are active (or the writer's
  // ring refused the open).
  // A request that an active session already covers (same flow or host, a
  // Host session covering the flow, an All session covering anything) starts
  // nothing, extends nothing, and returns that session's id.
  // The file's section comment (pcapng) names the trigger, label, scope and
  // limits; the trigger packet's comment its trigger, signature and verdict.
  uint64_t start(const CaptureRequest& req, const Decoded& pkt, const Flow& flow, Timestamp now);
  // The alert session `id` raised, known only after start() (a script's
  // alert): its signature goes into the trigger packet's comment, if that
  // packet is not written yet.
  void set_signature(uint64_t id, std::string_view signature);
  // Starts a Host session for `host` without a trigger packet (the control
  // socket's `capture start host`); otherwise as start().
  uint64_t start_host(const CaptureRequest& req, const IpAddr& host, Timestamp now);
  // Ends active session `id` now; false when there is none.
  bool stop(uint64_t id);
  // The active sessions (the control socket's `capture list`).
  struct SessionInfo {
    uint64_t id = 0;
    CaptureScope scope = CaptureScope::Flow;
    IpAddr host;  // Host: the host; Flow: the flow's client
    uint64_t flow_id = 0;
    Timestamp end = 0;
    uint64_t packets = 0, bytes = 0;
    std::string file;
  };
  std::vector<SessionInfo> sessions() const;

  // Every decoded packet, after its verdict (the trigger packet too): ends
  // sessions whose time is up, writes the packet to each matching session
  // (capture_packets; capture_dropped when the ring is full), ends sessions
  // that reached their packet or byte limit (a packet that would exceed
  // max_bytes ends the session unwritten), and remembers the packet in the
  // pre-trigger ring. flow may be null (a fragment of an unknown flow): only
  // Host and All sessions see it. `decision` is the packet's (null: accept):
  // a packet not accepted, and a session's trigger packet, get a comment
  // saying so (pcapng). Allocates nothing.
  void on_packet(const Decoded& pkt, const Flow* flow, Timestamp now,
                 const Decision* decision = nullptr);
  // A flow ended: its flow-scope sessions end kFlowEndLinger later (so the
  // last ACK after a FIN is still recorded), unless they end sooner anyway.
  void on_flow_end(const Flow& flow, Timestamp now);
  static constexpr Timestamp kFlowEndLinger = kNsPerSec;
  // Ends sessions past their duration when no packets arrive; retries closes
  // the writer's ring refused.
  void tick(Timestamp now);
  // Ends every session. Waits briefly (bounded) for ring space to close them.
  void shutdown();
  // Reload (worker thread): the limits of sessions started from now on
  // (default duration, packets, bytes) and max_sessions; running sessions
  // keep theirs. ring, snaplen and pre_packets need a restart.
  void set_limits(const CaptureConfig& cfg);
  size_t active() const { return active_; }
  // Offload: whether an active session records `flow` (the flow, its
  // client's or server's host, or everything), and how many sessions were
  // ever started (a change means a new one may want offloaded flows back).
  bool records(const Flow& flow) const;
  uint64_t sessions_started() const { return next_id_ - 1; }
  // The file of active session `id` (CaptureWriter::path_of); empty if none.
  std::string_view file_of(uint64_t id) const;

 private:
  struct Session {
    uint64_t id = 0;  // 0 = free slot
    CaptureScope scope = CaptureScope::Flow;
    bool closing = false;  // ended, but the writer's ring refused the close: retried
    uint64_t flow_id = 0;
    IpAddr host;
    Timestamp end = 0;
    uint64_t max_packets = 0, max_bytes = 0;
    uint64_t packets = 0, bytes = 0;
    std::string file;              // what alerts name (capture_file)
    bool trigger_pending = false;  // the trigger packet is still to come (its comment)
    std::string trigger_note;      // "trigger: ...; signature: ..." for that comment
  };
  struct PreSlot {
    uint64_t flow_id = 0;  // 0: no flow
    IpAddr src, dst;
    Timestamp ts = 0;
    uint32_t orig_len = 0;
    uint32_t caplen = 0;
    Verdict verdict = Verdict::Accept;
    std::string_view reason;  // static or configuration-owned (Decision::reason)
  };

  // `flow` names the flow in the file's section comment; null for a host
  // recording the control socket started.
  uint64_t open_session(const CaptureRequest& req, const IpAddr& client, const IpAddr& peer,
                        uint64_t flow_id, const Flow* flow, Timestamp now);
  static bool matches(const Session& s, uint64_t flow_id, const IpAddr& src, const IpAddr& dst);
  // Writes one packet to a session, accounting limits; false when it ended it.
  bool deliver(Session& s, std::span<const uint8_t> bytes, uint32_t orig_len, Timestamp ts,
               std::string_view comment = {});
  void end(Session& s);
  void retry_closes();
  void remember(const Decoded& pkt, const Flow* flow, Timestamp now, const Decision* decision);

  CaptureWriter& writer_;
  unsigned worker_;
  CaptureConfig cfg_;
  CaptureCounters counters_;
  std::vector<Session> sessions_;  // max_sessions slots
  size_t active_ = 0;              // slots with an open session (not closing)
  size_t closing_ = 0;             // slots waiting for their close to be queued
  uint64_t next_id_ = 1;

  uint32_t pre_slot_bytes_ = 0;
  std::vector<PreSlot> pre_;       // pre_packets slots, a ring
  std::vector<uint8_t> pre_data_;  // pre_packets x pre_slot_bytes_
  size_t pre_next_ = 0;            // slot the next packet goes to
  size_t pre_count_ = 0;           // filled slots
};

}  // namespace tripline
