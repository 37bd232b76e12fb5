-- Watches plain HTTP and, when a request sends a password in clear text,
-- records everything to and from that client for five minutes.
function on_flow(f)
  if f.proto == "TCP" and (f.dest_port == 80 or f.dest_port == 8080) then
    tripline.watch()
  end
end

function on_packet(p)
  if p.dir ~= "toserver" or p.payload_len == 0 then return nil end
  local head = tripline.payload(1, 2048)
  if head:find("password=", 1, true) or head:find("Authorization: Basic", 1, true) then
    tripline.alert{ signature = "credentials over plain HTTP", category = "exposure", severity = 1 }
    tripline.capture{ scope = "host", seconds = 300, label = "cleartext-credentials" }
    tripline.unwatch()
  elseif p.pkts_toserver > 20 then
    tripline.unwatch()  -- only the start of a connection is interesting
  end
end
