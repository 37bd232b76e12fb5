-- Deliberately broken for some ports.
function on_flow(f)
  if f.dest_port == 9 then while true do end end
  if f.dest_port == 10 then error("no such thing") end
  if f.dest_port == 11 then return 42 end
  if f.dest_port == 25 then return "reject" end
  return "accept"
end
