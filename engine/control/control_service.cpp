#include "control_service.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>

#include "capture_recorder.h"
#include "dns_cache.h"
#include "worker.h"

namespace tripline {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What `flows` shows of one flow: copied on the worker's thread.
struct FlowInfo {
  unsigned worker = 0;
  uint64_t id = 0;
  IpAddr src, dst;
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  FlowState state = FlowState::New;
  Timestamp start = 0, last = 0;
  uint64_t pkts[2] = {0, 0}, bytes[2] = {0, 0};
  Verdict verdict = Verdict::Accept;
  bool decided = false;
  std::string dns_name;
  MacAddr client_host;
  std::string client_name;  // from the DHCP leases ([clients] leases); empty when unnamed
  uint64_t total() const { return bytes[0] + bytes[1]; }
};

const char* proto_name(uint8_t p) {
  switch (p) {
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 1:
      return "ICMP";
    case 58:
      return "IPv6-ICMP";
    default:
      return "other";
  }
}

json flow_json(const FlowInfo& f) {
  json j{{"worker", f.worker},
         {"flow_id", f.id},
         {"proto", proto_name(f.proto)},
         {"src_ip", f.src.to_string()},
         {"src_port", f.sport},
         {"dest_ip", f.dst.to_string()},
         {"dest_port", f.dport},
         {"state", to_string(f.state)},
         {"start", format_iso8601(f.start)},
         {"last", format_iso8601(f.last)},
         {"pkts_toserver", f.pkts[kToServer]},
         {"pkts_toclient", f.pkts[kToClient]},
         {"bytes_toserver", f.bytes[kToServer]},
         {"bytes_toclient", f.bytes[kToClient]},
         {"verdict", f.decided ? std::string(to_string(f.verdict)) : std::string("undecided")}};
  if (!f.dns_name.empty()) j["dns_name"] = f.dns_name;
  // Who the client is: its link-layer address and its DHCP lease name.
  json client = json::object();
  if (f.client_host.known()) client["host"] = f.client_host.to_string();
  if (!f.client_name.empty()) client["name"] = f.client_name;
  j["client"] = client;
  return j;
}

// Lower case without a trailing dot, as the DNS parser stores names.
std::string normal_name(std::string_view n) {
  std::string s(n);
  if (!s.empty() && s.back() == '.') s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string bad(std::string_view why) { return control_error(why); }

}  // namespace

ControlService::ControlService(std::shared_ptr<const Config> cfg, ControlTargets targets)
    : cfg_(std::move(cfg)), t_(std::move(targets)) {
  prev_.at = last_.at = started_;
  prev_.packets.assign(t_.workers.size(), 0);
  last_.packets = prev_.packets;
}

void ControlService::sample() {
  auto now = Clock::now();
  if (now - last_.at < std::chrono::milliseconds(900)) return;
  prev_ = last_;
  last_.at = now;
  for (size_t i = 0; i < t_.workers.size(); ++i)
    last_.packets[i] = t_.workers[i]->counters().packets.get();
}

std::string ControlService::handle(const ControlRequest& req) {
  const json& a = req.args;
  if (req.cmd == "status") return status();
  if (req.cmd == "flows") return flows(a);
  if (req.cmd == "dns.lookup") return dns_lookup(a);
  if (req.cmd == "dns.flush") return dns_flush(a);
  if (req.cmd == "capture.list") return capture_list();
  if (req.cmd == "capture.start") return capture_start(a);
  if (req.cmd == "capture.stop") return capture_stop(a);
  if (req.cmd == "reload") {
    if (!t_.reload) return bad("reload is not available here");
    t_.reload();
    return control_ok(json{{"message", "reload requested"}});
  }
  return bad("unknown command \"" + req.cmd + "\"");
}

std::string ControlService::status() {
  sample();
  json r;
  r["version"] = t_.version;
  r["uptime_seconds"] =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
  r["queues"] = json{{"first", cfg_->queue.first}, {"count", cfg_->queue.count}};
  double secs = std::chrono::duration<double>(last_.at - prev_.at).count();
  json workers = json::array();
  for (size_t i = 0; i < t_.workers.size(); ++i) {
    double rate = secs > 0 ? static_cast<double>(last_.packets[i] - prev_.packets[i]) / secs : 0;
    workers.push_back(json{{"worker", i},
                           {"queue", cfg_->queue.first + i},
                           {"packets", t_.workers[i]->counters().packets.get()},
                           {"packets_per_second", std::round(rate * 10) / 10}});
  }
  r["workers"] = workers;
  r["counters"] = t_.counters ? json::parse(t_.counters().to_json()) : json::object();
  if (t_.dns) r["dns_cache_entries"] = t_.dns->size();
  if (t_.extra_status) r.update(t_.extra_status());
  return control_ok(r);
}

std::string ControlService::flows(const json& args) {
  unsigned top = args.contains("top") ? args["top"].get<unsigned>() : 20;
  if (top == 0 || top > kMaxControlFlows)
    return bad("flows: --top must be 1.." + std::to_string(kMaxControlFlows));
  std::optional<IpAddr> host;
  if (args.contains("host")) {
    host = IpAddr::parse(args["host"].get<std::string>());
    if (!host) return bad("flows: \"" + args["host"].get<std::string>() + "\" is not an address");
  }
  std::vector<FlowInfo> all;
  std::vector<unsigned> missing;
  auto deadline = Clock::now() + t_.worker_timeout;
  for (size_t i = 0; i < t_.workers.size(); ++i) {
    auto left = std::max(milliseconds(1),
                         std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    const unsigned index = static_cast<unsigned>(i);
    // On the worker's thread: the top flows of its table (a heap of `top`).
    auto got = t_.workers[i]->mailbox().ask<std::vector<FlowInfo>>(
        [index, top, host](Worker& w) {
          std::vector<FlowInfo> heap;
          heap.reserve(top);
          auto smaller = [](const FlowInfo& x, const FlowInfo& y) { return x.total() > y.total(); };
          w.flows().for_each([&](const Flow& f) {
            if (host && !(f.key.lo == *host) && !(f.key.hi == *host)) return;
            uint64_t total = f.bytes[0] + f.bytes[1];
            if (heap.size() == top && total <= heap.front().total()) return;
            FlowInfo fi;
            fi.worker = index;
            fi.id = f.id;
            fi.src = f.src();
            fi.dst = f.dst();
            fi.sport = f.sport();
            fi.dport = f.dport();
            fi.proto = f.proto();
            fi.state = f.state;
            fi.start = f.start;
            fi.last = f.last;
            std::copy(std::begin(f.pkts), std::end(f.pkts), fi.pkts);
            std::copy(std::begin(f.bytes), std::end(f.bytes), fi.bytes);
            fi.verdict = f.decision.verdict;
            fi.decided = f.decided;
            fi.dns_name = f.data.dns_name();
            fi.client_host = f.data.client_host();
            if (f.data.has_client_name()) fi.client_name = f.data.client_name();
            if (heap.size() == top) {
              std::pop_heap(heap.begin(), heap.end(), smaller);
              heap.back() = std::move(fi);
            } else {
              heap.push_back(std::move(fi));
            }
            std::push_heap(heap.begin(), heap.end(), smaller);
          });
          return heap;
        },
        left);
    if (!got) {
      missing.push_back(index);
      continue;
    }
    all.insert(all.end(), std::make_move_iterator(got->begin()),
               std::make_move_iterator(got->end()));
  }
  std::sort(all.begin(), all.end(),
            [](const FlowInfo& x, const FlowInfo& y) { return x.total() > y.total(); });
  if (all.size() > top) all.resize(top);
  json r;
  json list = json::array();
  for (const FlowInfo& f : all) list.push_back(flow_json(f));
  r["flows"] = list;
  // A worker that did not answer in time (stuck in one packet) is named, not waited for.
  r["workers_not_answering"] = missing;
  return control_ok(r);
}

std::string ControlService::dns_lookup(const json& args) {
  if (!t_.dns) return bad("dns: no DNS cache (no [dns] resolvers and [egress] mode off)");
  const std::string target = args["target"].get<std::string>();
  DnsCacheMatch m;
  if (auto a = IpAddr::parse(target))
    m.addr = *a;
  else
    m.name = normal_name(target);
  if (m.addr.family == 0 && m.name.empty()) return bad("dns lookup: empty name");
  constexpr size_t kLimit = 1000;
  auto entries = t_.dns->entries(m, kLimit);
  json list = json::array();
  for (const auto& e : entries) {
    list.push_back(json{{"address", e.addr.to_string()},
                        {"client", e.scope.none() ? std::string("*") : e.scope.to_string()},
                        {"until", format_iso8601(e.expiry)},
                        {"names", e.names}});
  }
  return control_ok(json{{"entries", list}, {"truncated", entries.size() >= kLimit}});
}

std::string ControlService::dns_flush(const json& args) {
  if (!t_.dns) return bad("dns: no DNS cache (no [dns] resolvers and [egress] mode off)");
  DnsCacheMatch m;
  if (args.contains("target")) {
    const std::string target = args["target"].get<std::string>();
    if (auto a = IpAddr::parse(target))
      m.addr = *a;
    else
      m.name = normal_name(target);
    if (m.addr.family == 0 && m.name.empty()) return bad("dns flush: empty name");
  }
  return control_ok(json{{"flushed", t_.dns->flush(m)}});
}

std::string ControlService::capture_list() {
  json list = json::array();
  std::vector<unsigned> missing;
  auto deadline = Clock::now() + t_.worker_timeout;
  for (size_t i = 0; i < t_.workers.size(); ++i) {
    auto left = std::max(milliseconds(1),
                         std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    auto got = t_.workers[i]->mailbox().ask<std::vector<CaptureRecorder::SessionInfo>>(
        [](Worker& w) {
          return w.capture() ? w.capture()->sessions()
                             : std::vector<CaptureRecorder::SessionInfo>{};
        },
        left);
    if (!got) {
      missing.push_back(static_cast<unsigned>(i));
      continue;
    }
    for (const auto& s : *got) {
      // Ours are named by our id; a trigger's by worker.session.
      std::string id = std::to_string(i) + "." + std::to_string(s.id);
      for (const auto& [cid, c] : captures_)
        for (const auto& [w, sid] : c.sessions)
          if (w == i && sid == s.id) id = std::to_string(cid);
      json j{{"id", id},
             {"worker", i},
             {"scope", to_string(s.scope)},
             {"until", format_iso8601(s.end)},
             {"packets", s.packets},
             {"bytes", s.bytes},
             {"file", s.file}};
      if (s.scope == CaptureScope::Host) j["host"] = s.host.to_string();
      if (s.scope == CaptureScope::Flow) j["flow_id"] = s.flow_id;
      list.push_back(j);
    }
  }
  return control_ok(json{{"captures", list}, {"workers_not_answering", missing}});
}

std::string ControlService::capture_start(const json& args) {
  const std::string host_text = args["host"].get<std::string>();
  auto host = IpAddr::parse(host_text);
  if (!host) return bad("capture start: \"" + host_text + "\" is not an address");
  uint64_t seconds = args.contains("seconds") ? args["seconds"].get<uint64_t>() : 0;
  if (seconds > 86400) return bad("capture start: --seconds must be at most 86400");
  CaptureRequest req;
  req.scope = CaptureScope::Host;
  req.duration = static_cast<Timestamp>(seconds) * kNsPerSec;  // 0: [capture] seconds
  const uint64_t cid = next_capture_;
  // Every worker records the host's packets it sees (a host's flows spread
  // over the queues): one file per worker.
  Capture cap{host_text, {}};
  json files = json::array();
  std::string refused;
  auto deadline = Clock::now() + t_.worker_timeout;
  for (size_t i = 0; i < t_.workers.size(); ++i) {
    auto left = std::max(milliseconds(1),
                         std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    IpAddr h = *host;
    std::string label = "ctl-" + std::to_string(cid);
    auto got = t_.workers[i]->mailbox().ask<std::pair<uint64_t, std::string>>(
        [req, h, label](Worker& w) -> std::pair<uint64_t, std::string> {
          if (!w.capture()) return {0, "capture is off (no [capture] dir)"};
          CaptureRequest r = req;
          r.label = label;
          uint64_t id = w.capture()->start_host(r, h, wall_clock_now());
          if (id == 0) return {0, "refused (max_sessions reached or the writer is full)"};
          return {id, std::string(w.capture()->file_of(id))};
        },
        left);
    if (!got) {
      refused = "worker " + std::to_string(i) + " did not answer in time";
      continue;
    }
    if (got->first == 0) {
      refused = got->second;
      continue;
    }
    cap.sessions.emplace_back(static_cast<unsigned>(i), got->first);
    files.push_back(got->second);
  }
  if (cap.sessions.empty()) return bad("capture start: " + refused);
  ++next_capture_;
  captures_[cid] = std::move(cap);
  json r{{"id", std::to_string(cid)}, {"host", host_text}, {"files", files}};
  if (!refused.empty()) r["warning"] = refused;
  return control_ok(r);
}

std::string ControlService::capture_stop(const json& args) {
  const std::string id = args["id"].get<std::string>();
  std::vector<std::pair<unsigned, uint64_t>> targets;
  auto parse_u64 = [](std::string_view s, uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  size_t dot = id.find('.');
  uint64_t a = 0, b = 0;
  if (dot == std::string::npos && parse_u64(id, a)) {
    auto it = captures_.find(a);
    if (it == captures_.end()) return bad("capture stop: no capture " + id + " (see capture list)");
    targets = it->second.sessions;
    captures_.erase(it);
  } else if (dot != std::string::npos && parse_u64(std::string_view(id).substr(0, dot), a) &&
             parse_u64(std::string_view(id).substr(dot + 1), b) && a < t_.workers.size()) {
    targets.emplace_back(static_cast<unsigned>(a), b);
  } else {
    return bad("capture stop: \"" + id + "\" is not a capture id (N or WORKER.SESSION)");
  }
  size_t stopped = 0;
  auto deadline = Clock::now() + t_.worker_timeout;
  for (auto [w, sid] : targets) {
    auto left = std::max(milliseconds(1),
                         std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    uint64_t s = sid;
    auto got = t_.workers[w]->mailbox().ask<bool>(
        [s](Worker& wk) { return wk.capture() && wk.capture()->stop(s); }, left);
    if (got && *got) ++stopped;
  }
  if (stopped == 0) return bad("capture stop: " + id + " is not running (ended already?)");
  return control_ok(json{{"id", id}, {"stopped_sessions", stopped}});
}

}  // namespace tripline
