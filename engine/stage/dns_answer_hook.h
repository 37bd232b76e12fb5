// What the DNS observer tells a later stage about a trusted answer before it
// opens anything (lua's on_dns), and what that stage may decide. An interface
// here, in the stage layer, so the observer (dns) and the triggers (lua) stay
// side by side without naming each other; the worker's StageEnv connects them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "client_id.h"
#include "eve_facts.h"
#include "ip_address.h"
#include "stage.h"

namespace tripline {

// A trusted answer (from a configured resolver, matched to its query) as the
// observer has judged it so far. Every view is valid during the hook call only.
struct DnsAnswerInfo {
  PacketContext& ctx;   // the answer's packet and its flow (resolver -> client)
  IpAddr client;        // who asked (the query's source address)
  MacAddr client_host;  // its link-layer address; all zeros when not known
  IpAddr resolver;
  uint16_t resolver_port = 0;
  uint16_t id = 0;
  uint8_t proto = 0;  // 17 UDP, 6 TCP
  std::string_view qname;
  uint16_t qtype = 0;
  uint8_t rcode = 0;
  std::span<const DnsAnswerFacts> answers;  // every answer record, wire order
  std::span<const std::string> chain;       // the question name, then each CNAME target followed
  std::span<const IpAddr> addrs;            // what the answer would open (none unless NOERROR)
  std::string_view blocked_by;  // the name rule blocking it ("blocklist:<file>"), or empty
};

enum class DnsHookAction : uint8_t {
  Pass,   // the answer is handled as without the hook
  Drop,   // not passed on; opens nothing
  Block,  // answered as a blocked name ([dns] block_mode); opens nothing
  Error,  // the hook failed (counted by it): the packet gets the default verdict
};

class DnsAnswerHook {
 public:
  virtual ~DnsAnswerHook() = default;
  virtual DnsHookAction on_dns_answer(const DnsAnswerInfo& answer) = 0;
};

}  // namespace tripline
