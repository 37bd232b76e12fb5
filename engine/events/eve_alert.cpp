// The EVE `alert` event: a stage's or a trigger script's finding on a flow,
// in Suricata's alert layout (gid 1, signature_id, rev); the reason and
// monitor mode's would_block under `tripline`.
#include "eve.h"
#include "eve_json.h"

namespace tripline {

std::string EveBuilder::alert_event(const AlertFacts& f) {
  auto& w = json_->begin(f.now, "alert", flow_id(f.flow.id), f.flow);
  if (!f.capture_file.empty()) {
    w.Key("capture_file");
    write_string(w, f.capture_file);
  }
  w.Key("alert");
  w.StartObject();
  w.Key("action");
  w.String(f.blocked ? "blocked" : "allowed");
  w.Key("gid");
  w.Uint(1);
  w.Key("signature_id");
  w.Uint(f.signature_id);
  w.Key("rev");
  w.Uint(f.rev);
  w.Key("signature");
  write_string(w, f.signature);
  w.Key("category");
  write_string(w, f.category);
  w.Key("severity");
  w.Int(f.severity);
  w.EndObject();
  if (!f.reason.empty() || f.would_block || f.flow.data.client_host().known() ||
      f.flow.data.has_client_name()) {
    w.Key("tripline");
    w.StartObject();
    if (!f.reason.empty()) {
      w.Key("reason");
      write_string(w, f.reason);
    }
    if (f.would_block) {
      w.Key("would_block");
      w.Bool(true);
    }
    write_client_host(w, f.flow.data.client_host());
    write_client_name(w, f.flow);
    w.EndObject();
  }
  return json_->finish();
}

}  // namespace tripline
