// The selectors of policy rules: what a rule matches on a new flow (addresses,
// ports, protocol, direction, zones, the DNS name the destination was reached
// by, whether a trusted resolver opened it) and their and/or/not composition.
// Each prints itself in the TOML words it was written with (to_string).
// Built once from the configuration, then read-only: any worker may match.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cidr_set.h"
#include "dns_cache.h"
#include "domain_set.h"
#include "flow_table.h"
#include "host_table.h"
#include "packet_meta.h"
#include "rule_config.h"
#include "timestamp.h"

namespace tripline {

// What selectors look at for one new flow: the flow, the interfaces of its
// first packet, and the DNS cache's word on its destination, looked up at
// most once per evaluation and only when a selector asks. One per worker,
// reset for each flow; allocates nothing.
class FlowFacts {
 public:
  // cache may be null (no DNS observation): every lookup says Unknown.
  // hosts may be null: the client is the flow's source address.
  FlowFacts(const CidrSet& inside, const DnsCache* cache, const HostTable* hosts = nullptr)
      : inside_(inside), cache_(cache), hosts_(hosts) {}

  // flow and meta must outlive the evaluation (no temporaries).
  void reset(const Flow& flow, const PacketMeta& meta, Timestamp now) {
    flow_ = &flow;
    meta_ = &meta;
    now_ = now;
    looked_up_ = false;
    identified_ = false;
  }
  void reset(const Flow&, const PacketMeta&&, Timestamp) = delete;
  const Flow& flow() const { return *flow_; }
  const PacketMeta& meta() const { return *meta_; }
  FlowDirection direction() const;
  // Who the flow's client (its source) is: a host or an address (host_table.h).
  const ClientId& client();
  // The DNS cache's answer for (client, destination).
  const DnsLookup& dns();
  // Whether dns() ran for this flow.
  bool looked_up() const { return looked_up_; }
  uint64_t lookups() const { return lookups_; }  // since construction (tests)

 private:
  const CidrSet& inside_;
  const DnsCache* cache_;
  const HostTable* hosts_;
  const Flow* flow_ = nullptr;
  const PacketMeta* meta_ = &kNoPacketMeta;  // the packet's, valid for one evaluation
  Timestamp now_ = 0;
  bool looked_up_ = false;
  bool identified_ = false;
  ClientId client_;
  uint64_t lookups_ = 0;
  DnsLookup dns_;
};

class Selector {
 public:
  virtual ~Selector() = default;
  virtual bool matches(FlowFacts& facts) const = 0;
  // One line, in the configuration's words: `dst 192.0.2.0/24`,
  // `proto udp and port 123`, `not resolved client`.
  virtual std::string to_string() const = 0;
  // Matching may need the DNS lookup (and/or try such selectors last).
  virtual bool uses_dns() const { return false; }
  // For to_string of a composite: whether this needs parentheses inside one.
  virtual bool composite() const { return false; }
};

using SelectorPtr = std::unique_ptr<Selector>;

// A zone as selectors use it: interface names resolved to indexes (live).
struct Zone {
  std::string name;
  CidrSet cidrs;
  std::vector<std::string> interfaces;
  std::vector<uint32_t> ifindexes;  // of the interfaces that exist (empty in replay)
};

SelectorPtr select_all();
// Source/destination address in any of the prefixes.
SelectorPtr select_src(CidrSet cidrs);
SelectorPtr select_dst(CidrSet cidrs);
// TCP/UDP destination/source port in any of the ranges (other protocols: no match).
SelectorPtr select_port(std::vector<PortRange> ports);
SelectorPtr select_src_port(std::vector<PortRange> ports);
SelectorPtr select_proto(std::vector<uint8_t> protos);
SelectorPtr select_direction(std::vector<FlowDirection> directions);
// The flow's source (destination) is in any of the zones: by address, or by
// the interface its first packet came in on (goes out on).
SelectorPtr select_src_zone(std::vector<std::shared_ptr<const Zone>> zones);
SelectorPtr select_dst_zone(std::vector<std::shared_ptr<const Zone>> zones);
// The name the DNS cache holds for the destination (this client's, or in
// client scope another client's) is in the set or under a name in it.
// `words` is how it prints: `domain [example.com]`, `domain_list [ads.txt]`.
SelectorPtr select_domain(std::shared_ptr<const DomainSet> set, std::string words);
// Client: the destination is open for this client in the DNS cache (with
// [dns] scope = "global": for anyone). Anyone: open for some client.
SelectorPtr select_resolved(ResolvedBy by);
SelectorPtr select_and(std::vector<SelectorPtr> all);
SelectorPtr select_or(std::vector<SelectorPtr> any);
SelectorPtr select_not(SelectorPtr inner);

// Host prefixes without their length: "10.0.0.53", "192.0.2.0/24".
std::string cidr_text(const Cidr& c);
// "tcp", "udp", "icmp", "icmpv6", ..., or the number.
std::string proto_text(uint8_t proto);

}  // namespace tripline
