// Every EVE JSON layout tripline writes, in one place (Suricata's field names,
// so Filebeat and Vector take them as they are): the common header, and the
// `flow`, `dns` and `alert` events. Callers hand facts (eve_facts.h) and get
// finished lines back; no JSON leaves engine/events.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "eve_facts.h"
#include "flow_table.h"
#include "timestamp.h"

namespace tripline {

// "TCP", "UDP", "ICMP", "IPv6-ICMP", or the protocol number as text.
const char* proto_name(uint8_t proto, char* buf /* >= 4 bytes */);

struct EveJson;  // the JSON writer and its buffer (eve_json.h, internal)

// Reusable builder: one per worker, its buffer reused between events; each
// call returns one complete line (without the newline).
class EveBuilder {
 public:
  EveBuilder();
  ~EveBuilder();
  EveBuilder(const EveBuilder&) = delete;
  EveBuilder& operator=(const EveBuilder&) = delete;

  // A flow-end event (eve.cpp).
  std::string flow_event(const Flow& flow, FlowEndReason reason, Timestamp now);
  // A DNS query or answer (eve_dns.cpp).
  std::string dns_event(const DnsEventFacts& facts);
  // An alert on a flow (eve_alert.cpp).
  std::string alert_event(const AlertFacts& facts);

 private:
  std::unique_ptr<EveJson> json_;
};

}  // namespace tripline
