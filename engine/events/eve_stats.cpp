// The EVE `stats` event: the counters, in Suricata's stats layout where
// Suricata has the same counter (decoder, ips, flow, detect.lua, pcap_log,
// uptime), and every counter by its own name under `tripline.stats`.
#include <initializer_list>

#include "eve.h"
#include "eve_json.h"

namespace tripline {
namespace {

// Suricata's name for one of ours.
struct Mapped {
  const char* suricata;
  const char* ours;
};

void write_section(JsonWriter& w, const char* name, std::initializer_list<Mapped> fields,
                   const StatsFacts& f) {
  w.Key(name);
  w.StartObject();
  for (const Mapped& m : fields) {
    for (const auto& [counter, value] : f.counters) {
      if (counter != m.ours) continue;
      w.Key(m.suricata);
      w.Uint64(value);
      break;
    }
  }
  w.EndObject();
}

}  // namespace

std::string EveBuilder::stats_event(const StatsFacts& f) {
  auto& w = json_->begin(f.now, "stats");
  w.Key("stats");
  w.StartObject();
  w.Key("uptime");
  w.Uint64(f.uptime_seconds);
  write_section(w, "decoder",
                {{"pkts", "packets"}, {"bytes", "bytes"}, {"invalid", "decode_errors"}}, f);
  write_section(
      w, "ips",
      {{"accepted", "verdict_accept"}, {"blocked", "verdict_drop"}, {"rejected", "verdict_reject"}},
      f);
  write_section(w, "flow", {{"total", "flows_created"}}, f);
  w.Key("detect");
  w.StartObject();
  write_section(w, "lua",
                {{"errors", "lua_errors"}, {"instruction_limit_errors", "lua_budget_exceeded"}}, f);
  w.EndObject();
  write_section(w, "pcap_log", {{"written", "capture_packets"}}, f);
  w.EndObject();
  w.Key("tripline");
  w.StartObject();
  w.Key("stats");
  w.StartObject();
  for (const auto& [counter, value] : f.counters) {
    w.Key(counter.data(), static_cast<rapidjson::SizeType>(counter.size()));
    w.Uint64(value);
  }
  w.EndObject();
  w.EndObject();
  return json_->finish();
}

}  // namespace tripline
