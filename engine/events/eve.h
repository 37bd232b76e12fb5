// Builders for EVE-style JSON event lines (Suricata's field names, so Filebeat
// and Vector take them as they are): the common header every event carries
// and the `flow` record. Other event types add their object after the header.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "flow_table.h"
#include "timestamp.h"

namespace tripline {

// "TCP", "UDP", "ICMP", "IPv6-ICMP", or the protocol number as text.
const char* proto_name(uint8_t proto, char* buf /* >= 4 bytes */);

// Reusable builder: one per worker, buffer reused between events.
class EveBuilder {
 public:
  // Starts an event: {"timestamp", "flow_id", "event_type", "src_ip",
  // "src_port", "dest_ip", "dest_port", "proto"}. Leaves the object open.
  rapidjson::Writer<rapidjson::StringBuffer>& begin(Timestamp ts, const char* event_type,
                                                    const Flow& flow);
  // Same, from explicit endpoints (events without a flow record).
  rapidjson::Writer<rapidjson::StringBuffer>& begin(Timestamp ts, const char* event_type,
                                                    uint64_t flow_id, const IpAddr& src,
                                                    uint16_t sport, const IpAddr& dst,
                                                    uint16_t dport, uint8_t proto);
  // Closes the object and returns the line.
  std::string finish();

  // A complete flow-end event. dns_name may be null.
  std::string flow_event(const Flow& flow, FlowEndReason reason, Timestamp now);

  rapidjson::Writer<rapidjson::StringBuffer>& writer() { return writer_; }

 private:
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_{buf_};
};

// Writes a timestamp as an ISO 8601 string value.
void write_time(rapidjson::Writer<rapidjson::StringBuffer>& w, Timestamp t);

}  // namespace tripline
