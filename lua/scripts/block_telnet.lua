-- Drops telnet (TCP 23 and 2323) leaving the network, raises an alert and
-- records the attempt (the flow, plus the packets just before it) for Wireshark.
local telnet = { [23] = true, [2323] = true }

function on_flow(f)
  if f.proto == "TCP" and telnet[f.dest_port] then
    tripline.alert{ signature = "telnet to " .. f.dest_ip, category = "policy", severity = 2 }
    tripline.capture{ scope = "flow", seconds = 30, packets = 100, label = "telnet" }
    return "drop"
  end
end
