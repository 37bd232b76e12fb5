-- Opens NTP to the one literal address the device is known to use; alerts
-- on the policy's decision so the events show what the script saw.
function on_flow(f)
  if f.policy_verdict ~= "accept" and f.dest_ip == "192.0.2.123" and f.dest_port == 123 then
    tripline.alert{ signature = "opened " .. f.policy_reason .. " ntp", category = "egress" }
    return "accept"
  end
end
