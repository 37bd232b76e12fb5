// The facts stages hand to the EVE builder (eve.h) for the events they raise:
// plain values and borrowed views, valid for the call that builds the line.
// Which fields an event has and how they are spelled is eve*.cpp's business.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "flow_table.h"
#include "ip_address.h"
#include "timestamp.h"

namespace tripline {

// One record of a DNS answer section.
struct DnsAnswerFacts {
  std::string_view rrname = {};  // owner name, presentation form
  uint16_t rrtype = 0;
  uint32_t ttl = 0;
  IpAddr addr = {};              // A / AAAA data; family 0 otherwise
  std::string_view target = {};  // a name as data (CNAME target) when there is no address
};

// A DNS message tripline saw, and (for answers) what it made of it. The
// endpoints are the packet's, not the flow's orientation.
struct DnsEventFacts {
  Timestamp now = 0;
  uint64_t flow_id = 0;  // 0: no flow
  IpAddr src = {}, dst = {};
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  bool answer = false;           // a response; otherwise a query
  uint16_t id = 0;               // DNS transaction id
  std::string_view rrname = {};  // the question's name; empty: no question
  uint16_t rrtype = 0;           // the question's type
  MacAddr client_host = {};      // the asking client's host (link-layer address); zeros: unknown
  // Answers only:
  uint8_t rcode = 0;
  // "trusted", "untrusted", "unmatched", "malformed", "no-question",
  // "truncated-by-capture", a list label
  std::string_view status = {};
  bool would_drop = false;  // monitor mode: enforce would have dropped this answer (why: status)
  std::span<const DnsAnswerFacts> answers = {};
};

// The signature ids of tripline's own alerts (gid 1, as Suricata's rules;
// README "Events" lists them). Scripts choose their own (tripline.alert{}).
inline constexpr uint32_t kSidEgressUnresolved = 9100001;  // [egress]: not resolved for this client
inline constexpr uint32_t kSidUserRule = 9100002;          // a [[rule]] with alert or monitor
inline constexpr uint32_t kSidTrigger = 9100003;           // a script alert without signature_id

// An alert on a flow, from a stage (egress) or a trigger script.
struct AlertFacts {
  Timestamp now = 0;
  const Flow& flow;
  bool blocked = false;  // the flow was stopped ("blocked"), else "allowed"
  uint32_t signature_id = 0;
  uint32_t rev = 1;
  std::string_view signature = {};
  std::string_view category = {};
  int severity = 3;
  std::string_view reason = {};        // why, when the stage has one to give (empty: none)
  bool would_block = false;            // monitor mode: enforce would have blocked it
  std::string_view capture_file = {};  // the recording this alert started (empty: none)
};

// The counters for a `stats` event: every counter by its printed name
// ("packets", "dns_answers", "rule.<name>", "decode_error.<reason>").
struct StatsFacts {
  Timestamp now = 0;
  uint64_t uptime_seconds = 0;
  std::span<const std::pair<std::string_view, uint64_t>> counters = {};
};

}  // namespace tripline
