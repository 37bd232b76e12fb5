// The egress policy stage: a new outbound flow (original direction from an
// `inside` address to an outside one) passes only when its destination is
// open for that client in the DNS cache, is a configured resolver, or is in
// `[egress] allow`. Enforce blocks (drop or reject), monitor only reports.
// Flows that passed keep passing until they end; only new flows are checked.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <memory>
#include <string>

#include "config.h"
#include "stage.h"

namespace tripline {

class DnsCache;
class Worker;

class EgressPolicy final : public Stage {
 public:
  EgressPolicy(const Config& cfg, DnsCache* cache, Worker& worker);

  std::string_view name() const override { return "egress"; }
  bool likes(const PacketContext& ctx) const override;
  Next inspect(PacketContext& ctx) override;
  void on_flow_end(const Flow& flow, FlowEndReason reason, Timestamp now) override;

 private:
  bool is_resolver(const IpAddr& addr) const;
  void emit_alert(const PacketContext& ctx, std::string_view reason, bool blocked);

  const Config& cfg_;
  DnsCache* cache_;
  Worker& worker_;
  // The DNS name each open flow was reached by (Flow::annotation points here).
  absl::flat_hash_map<uint64_t, std::unique_ptr<std::string>> names_;
};

}  // namespace tripline
