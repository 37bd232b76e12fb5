#include "capture_recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>
#include <thread>

#include "version.h"

namespace tripline {

const char* to_string(CaptureScope s) {
  switch (s) {
    case CaptureScope::Flow:
      return "flow";
    case CaptureScope::Host:
      return "host";
    case CaptureScope::All:
      return "all";
  }
  return "?";
}

namespace {

uint32_t orig_length(const Decoded& pkt) {
  uint32_t n = static_cast<uint32_t>(pkt.ip.size());
  return std::max(n, pkt.ip_len);
}

const char* proto_name(uint8_t p) {
  switch (p) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
      return "icmp";
    case 58:
      return "ipv6-icmp";
  }
  return "ip";
}

std::string endpoint(const IpAddr& a, uint16_t port) {
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), port)
                   : fmt::format("{}:{}", a.to_string(), port);
}

// A packet's comment into buf (no allocation): "<note>; verdict: V; reason: R"
// or, without a note, only for a packet not accepted. Empty: no comment.
std::string_view packet_comment(char* buf, size_t size, std::string_view note, Verdict v,
                                std::string_view reason) {
  if (note.empty() && v == Verdict::Accept) return {};
  auto r = fmt::format_to_n(buf, size, "{}{}verdict: {}; reason: {}", note,
                            note.empty() ? "" : "; ", to_string(v), reason.empty() ? "-" : reason);
  return {buf, std::min(r.size, size)};
}

}  // namespace

CaptureRecorder::CaptureRecorder(CaptureWriter& writer, unsigned worker, const CaptureConfig& cfg,
                                 CaptureCounters counters)
    : writer_(writer), worker_(worker), cfg_(cfg), counters_(counters) {
  writer_.attach_lost(worker_, &counters_.lost);
  sessions_.resize(cfg_.max_sessions);  // 0: every start() is refused
  if (cfg_.pre_packets) {
    pre_slot_bytes_ = std::min(cfg_.snaplen, kPreSlotBytes);
    pre_.resize(cfg_.pre_packets);
    pre_data_.resize(size_t{cfg_.pre_packets} * pre_slot_bytes_);
  }
}

void CaptureRecorder::set_limits(const CaptureConfig& cfg) {
  cfg_.default_duration = cfg.default_duration;
  cfg_.default_max_packets = cfg.default_max_packets;
  cfg_.default_max_bytes = cfg.default_max_bytes;
  cfg_.max_sessions = cfg.max_sessions;
  if (sessions_.size() < cfg.max_sessions) sessions_.resize(cfg.max_sessions);
}

CaptureRecorder::~CaptureRecorder() {
  shutdown();
  writer_.attach_lost(worker_, nullptr);
}

bool CaptureRecorder::records(const Flow& flow) const {
  if (active_ == 0) return false;
  for (const Session& s : sessions_)
    if (s.id != 0 && !s.closing && matches(s, flow.id, flow.src(), flow.dst())) return true;
  return false;
}

bool CaptureRecorder::matches(const Session& s, uint64_t flow_id, const IpAddr& src,
                              const IpAddr& dst) {
  switch (s.scope) {
    case CaptureScope::Flow:
      return flow_id != 0 && flow_id == s.flow_id;
    case CaptureScope::Host:
      return src == s.host || dst == s.host;
    case CaptureScope::All:
      return true;
  }
  return false;
}

uint64_t CaptureRecorder::start(const CaptureRequest& req, const Decoded& pkt, const Flow& flow,
                                Timestamp now) {
  (void)pkt;  // the flow identifies the session; the packet itself arrives via on_packet
  return open_session(req, flow.src(), flow.dst(), flow.id, &flow, now);
}

uint64_t CaptureRecorder::start_host(const CaptureRequest& req, const IpAddr& host, Timestamp now) {
  CaptureRequest r = req;
  r.scope = CaptureScope::Host;
  return open_session(r, host, host, 0, nullptr, now);
}

bool CaptureRecorder::stop(uint64_t id) {
  for (Session& s : sessions_) {
    if (s.id != id || s.closing) continue;
    end(s);
    return true;
  }
  return false;
}

std::vector<CaptureRecorder::SessionInfo> CaptureRecorder::sessions() const {
  std::vector<SessionInfo> out;
  for (const Session& s : sessions_) {
    if (s.id == 0 || s.closing) continue;
    out.push_back(SessionInfo{s.id, s.scope, s.host, s.flow_id, s.end, s.packets, s.bytes, s.file});
  }
  return out;
}

uint64_t CaptureRecorder::open_session(const CaptureRequest& req, const IpAddr& client,
                                       const IpAddr& peer, uint64_t flow_id, const Flow* flow,
                                       Timestamp now) {
  Session* free_slot = nullptr;
  for (Session& s : sessions_) {
    if (s.id == 0) {
      if (!free_slot) free_slot = &s;
      continue;
    }
    if (s.closing) continue;
    bool covered = false;
    switch (s.scope) {
      case CaptureScope::All:
        covered = true;
        break;
      case CaptureScope::Host:
        covered = (req.scope == CaptureScope::Host && s.host == client) ||
                  (req.scope == CaptureScope::Flow && (s.host == client || s.host == peer));
        break;
      case CaptureScope::Flow:
        covered = req.scope == CaptureScope::Flow && s.flow_id == flow_id;
        break;
    }
    if (covered) return s.id;
  }
  if (!free_slot || active_ >= cfg_.max_sessions) {  // a reload may lower max_sessions
    counters_.sessions_refused.add();
    return 0;
  }
  uint64_t id = next_id_;
  // Why this file exists (its section comment): per session start, not per packet.
  Timestamp duration = req.duration > 0 ? req.duration : cfg_.default_duration;
  uint64_t max_packets = req.max_packets ? req.max_packets : cfg_.default_max_packets;
  uint64_t max_bytes = req.max_bytes ? req.max_bytes : cfg_.default_max_bytes;
  std::string scope;
  switch (req.scope) {
    case CaptureScope::Flow:
      scope = flow ? fmt::format("flow {} -> {} {}", endpoint(flow->src(), flow->sport()),
                                 endpoint(flow->dst(), flow->dport()), proto_name(flow->proto()))
                   : fmt::format("flow {}", flow_id);
      break;
    case CaptureScope::Host:
      scope = fmt::format("host {}", client.to_string());
      break;
    case CaptureScope::All:
      scope = "all";
      break;
  }
  std::string comment = fmt::format(
      "tripline {} recording\ntrigger: {}\nlabel: {}\nscope: {}\nlimits: {} s, {} packets, {} "
      "bytes\npre-trigger packets: up to {}\nstarted: {}",
      kVersion, req.trigger.empty() ? "-" : req.trigger, req.label.empty() ? "-" : req.label, scope,
      static_cast<double>(duration) / kNsPerSec, max_packets, max_bytes, cfg_.pre_packets,
      format_iso8601(now));
  if (!req.signature.empty()) comment += fmt::format("\nsignature: {}", req.signature);
  if (!writer_.open(worker_, id, req.label, now, comment)) {
    counters_.sessions_refused.add();
    return 0;
  }
  ++next_id_;
  Session& s = *free_slot;
  s = Session{};
  s.id = id;
  s.scope = req.scope;
  s.flow_id = flow_id;
  s.host = client;
  s.end = now + duration;
  s.max_packets = max_packets;
  s.max_bytes = max_bytes;
  s.file = writer_.path_of(worker_, id, req.label, now);  // per session start, not per packet
  s.trigger_pending = true;
  s.trigger_note = fmt::format("trigger packet: {}", req.trigger.empty() ? "-" : req.trigger);
  if (!req.label.empty()) s.trigger_note += fmt::format("; label: {}", req.label);
  if (!req.signature.empty()) s.trigger_note += fmt::format("; signature: {}", req.signature);
  ++active_;
  counters_.sessions_started.add();

  // The pre-trigger packets of this session, oldest first.
  size_t n = pre_.size();
  size_t first = (pre_next_ + n - pre_count_) % (n ? n : 1);
  for (size_t k = 0; k < pre_count_ && s.id; ++k) {
    size_t i = (first + k) % n;
    const PreSlot& p = pre_[i];
    if (!matches(s, p.flow_id, p.src, p.dst)) continue;
    auto bytes = std::span<const uint8_t>(pre_data_.data() + i * pre_slot_bytes_, p.caplen);
    char buf[CaptureWriter::kMaxPacketComment];
    if (!deliver(s, bytes, p.orig_len, p.ts,
                 packet_comment(buf, sizeof buf, {}, p.verdict, p.reason)))
      break;
  }
  return id;
}

void CaptureRecorder::set_signature(uint64_t id, std::string_view signature) {
  for (Session& s : sessions_) {
    if (id == 0 || s.id != id || !s.trigger_pending || signature.empty()) continue;
    if (s.trigger_note.find("; signature: ") == std::string::npos)
      s.trigger_note += fmt::format("; signature: {}", signature);
  }
}

bool CaptureRecorder::deliver(Session& s, std::span<const uint8_t> bytes, uint32_t orig_len,
                              Timestamp ts, std::string_view comment) {
  if (cfg_.format != CaptureFormat::Pcapng) comment = {};  // pcap has no comments
  uint64_t kept = std::min<uint64_t>(bytes.size(), cfg_.snaplen);
  if (s.bytes + kept > s.max_bytes) {
    end(s);
    return false;
  }
  if (writer_.write(worker_, s.id, ts, bytes, orig_len, comment)) {
    counters_.packets.add();
    ++s.packets;
    s.bytes += kept;
  } else {
    counters_.dropped.add();
  }
  if (s.packets >= s.max_packets || s.bytes >= s.max_bytes) {
    end(s);
    return false;
  }
  return true;
}

void CaptureRecorder::end(Session& s) {
  if (s.id == 0 || s.closing) return;
  --active_;
  if (writer_.close(worker_, s.id)) {
    s.id = 0;
  } else {
    s.closing = true;
    ++closing_;
  }
}

void CaptureRecorder::retry_closes() {
  for (Session& s : sessions_) {
    if (s.id == 0 || !s.closing) continue;
    if (!writer_.close(worker_, s.id)) return;  // still full; try again later
    s.id = 0;
    s.closing = false;
    --closing_;
  }
}

void CaptureRecorder::on_packet(const Decoded& pkt, const Flow* flow, Timestamp now,
                                const Decision* decision) {
  if (active_ == 0 && closing_ == 0 && pre_.empty()) return;
  if (closing_) retry_closes();
  if (active_) {
    uint64_t flow_id = flow ? flow->id : 0;
    uint32_t orig = orig_length(pkt);
    for (Session& s : sessions_) {
      if (s.id == 0 || s.closing) continue;
      if (now >= s.end) {
        end(s);
        continue;
      }
      if (pkt.ip.empty() || !matches(s, flow_id, pkt.src, pkt.dst)) continue;
      Verdict v = decision ? decision->verdict : Verdict::Accept;
      std::string_view reason = decision ? decision->reason : std::string_view();
      std::string_view note;
      if (s.trigger_pending) {
        s.trigger_pending = false;
        note = s.trigger_note;
      }
      char buf[CaptureWriter::kMaxPacketComment];
      deliver(s, pkt.ip, orig, now, packet_comment(buf, sizeof buf, note, v, reason));
    }
  }
  if (!pre_.empty() && !pkt.ip.empty()) remember(pkt, flow, now, decision);
}

void CaptureRecorder::remember(const Decoded& pkt, const Flow* flow, Timestamp now,
                               const Decision* decision) {
  PreSlot& p = pre_[pre_next_];
  p.flow_id = flow ? flow->id : 0;
  p.src = pkt.src;
  p.dst = pkt.dst;
  p.ts = now;
  p.orig_len = orig_length(pkt);
  p.verdict = decision ? decision->verdict : Verdict::Accept;
  p.reason = decision ? decision->reason : std::string_view();
  p.caplen = static_cast<uint32_t>(std::min<size_t>(pkt.ip.size(), pre_slot_bytes_));
  if (p.caplen)
    std::memcpy(pre_data_.data() + pre_next_ * pre_slot_bytes_, pkt.ip.data(), p.caplen);
  pre_next_ = pre_next_ + 1 == pre_.size() ? 0 : pre_next_ + 1;
  if (pre_count_ < pre_.size()) ++pre_count_;
}

void CaptureRecorder::on_flow_end(const Flow& flow, Timestamp now) {
  if (active_ == 0) return;
  for (Session& s : sessions_) {
    if (s.id != 0 && !s.closing && s.scope == CaptureScope::Flow && s.flow_id == flow.id)
      s.end = std::min(s.end, now + kFlowEndLinger);
  }
}

void CaptureRecorder::tick(Timestamp now) {
  if (closing_) retry_closes();
  if (active_ == 0) return;
  for (Session& s : sessions_)
    if (s.id != 0 && !s.closing && now >= s.end) end(s);
}

void CaptureRecorder::shutdown() {
  for (Session& s : sessions_) end(s);
  // The writer drains continuously; give it a moment to make room. If it
  // cannot (stalled disk), the writer closes the files when it is destroyed.
  for (int i = 0; closing_ && i < 200; ++i) {
    retry_closes();
    if (closing_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string_view CaptureRecorder::file_of(uint64_t id) const {
  for (const Session& s : sessions_)
    if (id != 0 && s.id == id) return s.file;
  return {};
}

}  // namespace tripline
