-- Port and host scans: a host that opens flows to more than MAX_PORTS distinct
-- destination ports, or to more than MAX_HOSTS distinct destination hosts,
-- within WINDOW seconds gets an alert and a recording of everything it sends
-- and receives. The counters are shared by all workers (tripline.incr), so a
-- scan spread over several queues is seen whole.

-- Distinct destination ports one host may open flows to within WINDOW seconds.
local MAX_PORTS = 20
-- Distinct destination hosts one host may open flows to within WINDOW seconds.
local MAX_HOSTS = 30
-- The window in seconds: a host's counts start over WINDOW seconds after
-- their first flow.
local WINDOW = 10
-- How long the scanner's recording runs, in seconds.
local RECORD_SECONDS = 60

function on_flow(f)
  local src = f.src_ip
  -- A host already reported: no more keys for it until its report expires
  -- (a full port sweep must not fill the shared store).
  if tripline.get("scan:reported:" .. src) then return nil end
  local scan
  -- incr on a "seen" key returns 1 only to the first flow that sees it, in
  -- whichever worker: a distinct port or host is counted once.
  if tripline.incr("scan:port:" .. src .. ":" .. f.dest_port, 1, WINDOW) == 1
      and tripline.incr("scan:ports:" .. src, 1, WINDOW) > MAX_PORTS then
    scan = "ports"
  end
  if tripline.incr("scan:host:" .. src .. ">" .. f.dest_ip, 1, WINDOW) == 1
      and tripline.incr("scan:hosts:" .. src, 1, WINDOW) > MAX_HOSTS then
    scan = scan or "hosts"
  end
  -- One report per scanner and window, also when two workers cross at once.
  if scan and tripline.incr("scan:reported:" .. src, 1, WINDOW) == 1 then
    local limit = scan == "ports" and MAX_PORTS or MAX_HOSTS
    tripline.alert{ signature = string.format("scan: %s touched more than %d %s in %d s",
                                              src, limit, scan, WINDOW),
                    category = "Attempted Information Leak", severity = 2 }
    tripline.capture{ scope = "host", seconds = RECORD_SECONDS, label = "port-scan" }
  end
end
