// Internal to engine/events (only eve*.cpp include it; rapidjson is a private
// dependency of this component): the writer every EVE layout writes with, and
// the pieces the layouts share.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "client_id.h"
#include "flow_table.h"
#include "ip_address.h"
#include "timestamp.h"

namespace tripline {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

struct EveJson {
  rapidjson::StringBuffer buf;
  JsonWriter w{buf};

  // Starts an event: {"timestamp", "flow_id" (unless 0; already the EVE id),
  // "event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto" (and
  // ICMP type and code), "community_id"}. Leaves the object open.
  JsonWriter& begin(Timestamp ts, const char* event_type, uint64_t flow_id, const IpAddr& src,
                    uint16_t sport, const IpAddr& dst, uint16_t dport, uint8_t proto);
  // Same, with the flow's endpoints in its original direction.
  JsonWriter& begin(Timestamp ts, const char* event_type, uint64_t flow_id, const Flow& flow);
  // An event without endpoints ({"timestamp", "event_type"}), e.g. stats.
  JsonWriter& begin(Timestamp ts, const char* event_type);
  // Closes the object and returns the line.
  std::string finish();
};

// A timestamp as an ISO 8601 string value.
void write_time(JsonWriter& w, Timestamp t);

// `tripline.client_host`: the client's link-layer address, when known (a
// host on a directly attached network), so one device can be followed
// across its addresses.
inline void write_client_host(JsonWriter& w, const MacAddr& mac) {
  if (!mac.known()) return;
  char buf[18];
  w.Key("client_host");
  w.String(buf, static_cast<rapidjson::SizeType>(mac.format(buf)));
}

inline void write_string(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// `tripline.client_name`: the client's host name from the DHCP leases, when named.
inline void write_client_name(JsonWriter& w, const Flow& flow) {
  if (!flow.data.has_client_name()) return;
  w.Key("client_name");
  write_string(w, flow.data.client_name());
}

}  // namespace tripline
