// STUB: being implemented (flow table helper). Replace entirely.
#include "flow_table.h"

namespace tripline {
const char* to_string(FlowState) { return "new"; }
const char* to_string(FlowEndReason) { return "timeout"; }
FlowTable::FlowTable(const FlowConfig& cfg, FlowObserver* observer) : cfg_(cfg), observer_(observer) {}
FlowTable::Result FlowTable::track(const Decoded&, Timestamp) { return {}; }
void FlowTable::expire(Timestamp) {}
void FlowTable::flush(Timestamp) {}
}  // namespace tripline
