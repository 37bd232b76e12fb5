// The egress policy stage: a new outbound flow (original direction from an
// `inside` address to an outside one) passes only when its destination is
// open for that client in the DNS cache, is a configured resolver, or is in
// `[egress] allow`. Enforce blocks (drop or reject), monitor only reports.
// Flows that passed keep passing until they end; only new flows are checked.
#pragma once

#include "config.h"
#include "stage.h"
#include "stage_env.h"

namespace tripline {

class DnsCache;

class EgressPolicy final : public Stage {
 public:
  EgressPolicy(const Config& cfg, DnsCache* cache, StageEnv& env);

  std::string_view name() const override { return "egress"; }
  bool likes(const PacketContext& ctx) const override;
  Next inspect(PacketContext& ctx) override;

 private:
  bool is_resolver(const IpAddr& addr) const;
  void emit_alert(const PacketContext& ctx, std::string_view reason, bool blocked);

  const Config& cfg_;
  DnsCache* cache_;
  StageEnv& env_;
};

}  // namespace tripline
