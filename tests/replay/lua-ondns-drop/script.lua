-- Drops answers to long names under tunnel.example.test and says why; every
-- other answer passes (nil).
function on_dns(d)
  local label = d.qname:match("^([^.]+)%.tunnel%.example%.test$")
  if label and #label > 20 then
    tripline.alert{ signature = "dns tunnel? " .. d.qtype .. " " .. d.qname .. " from " .. d.client,
                    category = "dns", severity = 2 }
    return "drop"
  end
  if d.qname == "cdn.example.test" then
    -- what the script sees of a CNAME chain
    tripline.alert{ signature = string.format("%s %s %s id %d chain %s addrs %s answers %d first %s %s %d %s via %s:%d",
      d.rcode, d.qname, d.qtype, d.id, table.concat(d.chain, ">"), table.concat(d.addresses, ","),
      #d.answers, d.answers[1].name, d.answers[1].type, d.answers[1].ttl, d.answers[1].data,
      d.resolver, d.resolver_port) }
  end
end
