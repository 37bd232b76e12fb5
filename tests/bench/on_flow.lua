-- tests/bench: an on_flow-only trigger with a loop, so its lines show in the
-- samples. Drops telnet; everything else passes.
local seen = 0

function on_flow(ev)
  seen = seen + 1
  local h = 0
  for i = 1, 200 do
    h = (h * 31 + i) % 65521
  end
  if ev.dest_port == 23 then
    return "drop"
  end
  return nil
end
