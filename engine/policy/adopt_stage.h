// Restart adoption: a connection conntrack already tracked as established
// when tripline started (its table dump) keeps its fate from before the
// restart: accepted, with reason "adopted", before any policy runs. Only
// mid-stream packets are adopted: a new connection (a TCP SYN, or a UDP flow
// conntrack did not have) to the same address still goes through policy.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <memory>

#include "ct_tuple.h"
#include "stage.h"
#include "stage_env.h"

namespace tripline {

// Canonical tuples (CtTuple::canonical) of the connections to adopt. Built
// once at start, then only read (shared by the workers without locks).
using AdoptedSet = absl::flat_hash_set<CtTuple>;
std::shared_ptr<const AdoptedSet> make_adopted_set(const std::vector<CtTuple>& established);

class AdoptStage final : public Stage {
 public:
  AdoptStage(std::shared_ptr<const AdoptedSet> set, StageEnv& env)
      : set_(std::move(set)), env_(env) {}
  std::string_view name() const override { return "adopt"; }
  bool likes(const PacketContext& ctx) const override { return ctx.new_flow; }
  Next inspect(PacketContext& ctx) override;

 private:
  std::shared_ptr<const AdoptedSet> set_;
  StageEnv& env_;
};

}  // namespace tripline
