-- Blocks names seen for the first time under a watched domain (a stand-in
-- for a DGA check) and records the client that asked.
local seen = {}

function on_dns(d)
  if d.qname:match("%.dga%.example%.test$") and not seen[d.qname] then
    seen[d.qname] = true
    tripline.capture{ scope = "host", seconds = 10, label = "new-domain" }
    return "block"
  end
end
