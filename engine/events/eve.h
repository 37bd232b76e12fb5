// Every EVE JSON layout tripline writes, in one place: Suricata's layouts and
// field names (checked against Suricata's schema, contrib/eve/), so Suricata's
// tools take them as they are; tripline's own fields go in one top-level
// `tripline` object. The common header and the `flow`, `dns` (version 3, or
// 2 on request), `alert` and `stats` events. Callers hand facts (eve_facts.h)
// and get finished lines back; no JSON leaves engine/events.
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

// A random number drawn once per process: flow ids of different runs
// appended to one file do not collide.
uint64_t eve_run_seed();

// Reusable builder: one per worker, its buffer reused between events; each
// call returns one complete line (without the newline).
class EveBuilder {
 public:
  // `worker` and `run_seed` make flow_id unique across workers and runs.
  explicit EveBuilder(unsigned worker = 0, uint64_t run_seed = eve_run_seed());
  ~EveBuilder();
  EveBuilder(const EveBuilder&) = delete;
  EveBuilder& operator=(const EveBuilder&) = delete;

  // A flow-end event (eve.cpp).
  // `bypass`: what the kernel carried of an offloaded flow (its destroy
  // event's counters beyond the packets tripline saw); null when not known.
  std::string flow_event(const Flow& flow, FlowEndReason reason, Timestamp now,
                         const FlowBypass* bypass = nullptr);
  // A DNS query or answer (eve_dns.cpp).
  std::string dns_event(const DnsEventFacts& facts);
  // An alert on a flow (eve_alert.cpp).
  std::string alert_event(const AlertFacts& facts);
  // The counters, every [log] stats_interval seconds (eve_stats.cpp).
  std::string stats_event(const StatsFacts& facts);

  // The EVE flow_id of the worker's flow `local_id` (Flow::id, a per-worker
  // counter): a 63-bit hash of it, the worker and the run seed; 0 for 0.
  uint64_t flow_id(uint64_t local_id) const;

  // The layout of `dns` events ([log] dns_version): 3 (Suricata 8, the
  // default) or 2 (Suricata 6/7: a query is "type": "query" with rrname and
  // rrtype in `dns`, an answer "type": "answer" with them and `answers`; what
  // older consumers such as fever read). Anything else is taken as 3.
  void set_dns_version(int version) { dns_version_ = version == 2 ? 2 : 3; }
  int dns_version() const { return dns_version_; }

 private:
  std::unique_ptr<EveJson> json_;
  unsigned worker_;
  uint64_t run_seed_;
  int dns_version_ = 3;
};

}  // namespace tripline
