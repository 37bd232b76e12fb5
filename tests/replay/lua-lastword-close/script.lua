-- Closes flows the policy opened: a resolved name the site does not want,
-- and SMTP to anything.
function on_flow(f)
  if f.policy_verdict == "accept" and f.dns_name == "tracker.example.test" then
    tripline.alert{ signature = "closed " .. f.policy_reason .. " " .. f.dns_name }
    return "drop"
  end
  if f.dest_port == 25 then return "reject" end
end
