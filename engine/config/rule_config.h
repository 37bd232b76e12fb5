// `[[rule]]` and `[zones.NAME]` as the configuration holds them: names, match
// trees and actions, checked for form and cross-references when the file is
// read. The policy component turns them into selectors and rule chains (and
// loads the files they name); see engine/policy/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cidr_set.h"
#include "timestamp.h"

namespace tripline {

// Where a flow goes relative to [network] inside (by its first packet).
enum class FlowDirection : uint8_t {
  Outbound,  // inside -> outside
  Inbound,   // outside -> inside
  Internal,  // inside -> inside
  External,  // outside -> outside (transit)
};
// "outbound", "inbound", "internal", "external"
const char* to_string(FlowDirection d);

// Whose DNS answer opened the destination.
enum class ResolvedBy : uint8_t {
  Client,  // this client's (or anyone's, with [dns] scope = "global")
  Anyone,  // any client's
};

enum class MatchKind : uint8_t {
  All,  // every flow (an empty match table)
  And,
  Or,
  Not,
  Src,  // cidrs
  Dst,
  Port,  // ports: TCP/UDP destination port
  SrcPort,
  Proto,      // protos
  Direction,  // directions
  SrcZone,    // zones
  DstZone,
  Domain,      // names: domain names (a name matches itself and its subdomains)
  DomainList,  // names: list files (rules/ formats)
  Resolved,    // resolved
};

struct PortRange {
  uint16_t lo = 0, hi = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// One node of a match tree. Value keys with a list match any of its values.
struct MatchNode {
  MatchKind kind = MatchKind::All;
  std::string origin;  // "file:line: rule[name].match.key", for errors found later
  CidrSet cidrs;
  std::vector<PortRange> ports;
  std::vector<uint8_t> protos;
  std::vector<FlowDirection> directions;
  std::vector<std::string> zones;
  std::vector<std::string> names;  // Domain: names; DomainList: paths (relative to the config)
  ResolvedBy resolved = ResolvedBy::Client;
  std::vector<MatchNode> children;  // And, Or (two or more); Not (one)
};

// What a matching rule does to the flow. Continue decides nothing (the next
// rule runs); the others end the evaluation.
enum class RuleVerb : uint8_t {
  Continue,
  Accept,
  Drop,
  Reject,
  Return,  // leave the chains without a verdict: the flow keeps the default
};
// "continue", "accept", "drop", "reject", "return"
const char* to_string(RuleVerb v);

enum class RuleCaptureScope : uint8_t { Flow, Host, All };

struct RuleConfig {
  std::string name;    // [A-Za-z0-9_-], unique
  std::string origin;  // "file:line" of its name
  MatchNode match;
  RuleVerb verb = RuleVerb::Continue;
  bool alert = false;    // raise an EVE alert (non-terminal)
  bool capture = false;  // start a recording (non-terminal; needs [capture] dir)
  bool monitor = false;  // drop/reject only: report "would block", decide nothing
  uint8_t severity = 2;  // of the alert
  RuleCaptureScope capture_scope = RuleCaptureScope::Flow;
  Timestamp capture_duration = 0;  // 0: [capture] defaults
  uint64_t capture_packets = 0;
  uint64_t capture_bytes = 0;
};

// A named part of the network: addresses and/or interfaces. A flow's source
// is in the zone when its address is in `cidrs` or its first packet came in
// on one of `interfaces`; its destination when the address is in `cidrs` or
// the packet goes out on one of `interfaces` (live only: replay has none).
struct ZoneConfig {
  std::string name;    // [A-Za-z0-9_-]
  std::string origin;  // "file:line: zones.NAME"
  CidrSet cidrs;
  std::vector<std::string> interfaces;
  std::string interfaces_origin;  // "file:line: zones.NAME.interfaces"
};

}  // namespace tripline
