-- New-flow rate limit: a client that opens more than MAX_FLOWS new flows
-- within one second gets an alert, and every new flow it opens in the next
-- BLOCK_SECONDS seconds is dropped (flows it already has keep going). The
-- counts are shared by all workers (tripline.incr), so flows spread over
-- several queues add up.

-- New flows one client may open within one second.
local MAX_FLOWS = 50
-- How long, in seconds, a client over the limit gets its new flows dropped.
local BLOCK_SECONDS = 30

function on_flow(f)
  local src = f.src_ip
  if tripline.get("rate:blocked:" .. src) then return "drop" end
  -- A counter per client and second: it expires one second after its first flow.
  local n = tripline.incr("rate:flows:" .. src, 1, 1)
  if n > MAX_FLOWS then
    tripline.set("rate:blocked:" .. src, true, BLOCK_SECONDS)
    -- Exactly one flow sees MAX_FLOWS + 1, whichever worker runs it: one alert.
    if n == MAX_FLOWS + 1 then
      tripline.alert{ signature = string.format("%s opened more than %d flows in a second",
                                                src, MAX_FLOWS),
                      category = "Attempted Denial of Service", severity = 2 }
    end
    return "drop"
  end
end
