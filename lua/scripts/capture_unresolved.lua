-- Records the host behind a flow the egress policy blocks: a client reaching
-- an address no trusted resolver gave it (literal-IP malware, hard-coded
-- telemetry, a device bypassing the resolver). The recording covers
-- everything to and from the client for a minute, starting with the packets
-- seen just before the block ([capture] pre_packets). The block stands (the
-- script returns nil); the egress policy writes its own alert.
local blocked_reasons = { unresolved = true, expired = true, ["other-client"] = true }

function on_flow(f)
  if f.policy_verdict ~= "accept" and blocked_reasons[f.policy_reason] then
    tripline.capture{ scope = "host", seconds = 60, packets = 1000, label = "unresolved" }
  end
end
