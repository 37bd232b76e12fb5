// The EVE `alert` event: a stage's or a trigger script's finding on a flow.
#include "eve.h"
#include "eve_json.h"

namespace tripline {

std::string EveBuilder::alert_event(const AlertFacts& f) {
  auto& w = json_->begin(f.now, "alert", f.flow);
  w.Key("alert");
  w.StartObject();
  w.Key("action");
  w.String(f.blocked ? "blocked" : "allowed");
  w.Key("signature");
  write_string(w, f.signature);
  w.Key("category");
  write_string(w, f.category);
  w.Key("severity");
  w.Int(f.severity);
  if (!f.reason.empty()) {
    w.Key("reason");
    write_string(w, f.reason);
  }
  if (f.would_block) {
    w.Key("would_block");
    w.Bool(true);
  }
  w.EndObject();
  return json_->finish();
}

}  // namespace tripline
