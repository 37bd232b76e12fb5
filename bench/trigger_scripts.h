// The Lua trigger scripts the benchmarks run (lua_bench, replay_bench), in one
// place so both measure the same code.
#pragma once

namespace tripline::bench {

// A typical policy trigger (as lua/scripts/block_telnet.lua): on_flow looks at
// a new flow's protocol and port, drops a few and watches nothing, so packets
// after a flow's first cost no Lua call.
constexpr const char* kPolicyScript = R"(
local blocked = { [23] = true, [2323] = true, [445] = true, [3389] = true }
function on_flow(f)
  if f.proto == "TCP" and blocked[f.dest_port] then return "drop" end
  if f.proto == "UDP" and f.dest_port == 1900 then return "drop" end
end
)";

// The worst case for triggers: every flow watched, on_packet on every packet
// (it reads the direction and the payload size, and returns nil for them all).
constexpr const char* kWatchAllScript = R"(
function on_flow(f) tripline.watch() end
function on_packet(p)
  if p.dir == "toserver" and p.payload_len > 60000 then return "drop" end
end
)";

}  // namespace tripline::bench
