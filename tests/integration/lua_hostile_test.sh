#!/usr/bin/env bash
# Hostile trigger scripts on real NFQUEUE queues (client — gw — server,
# contrib iptables rules on the gw): while one script returns a value whose
# __tostring fails, tries a finalizer, loops over string.rep, runs a
# pathological pattern, loops forever, raises and prints huge messages and
# sorts a huge table, UDP datagrams to each of those ports and HTTP downloads
# keep flowing (the default verdict is accept); every queued packet gets its
# verdict, the overruns are counted by kind, the log stays small, and SIGTERM
# stops the daemon.
#   lua_hostile_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: lua_hostile_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
command -v curl >/dev/null || fail "needs curl (scripts/install-deps.sh installs it)"
export TZ=UTC
HTTP_PORT=8080
PORTS=(9001 9002 9003 9004 9005 9006 9007 9008)
FLOWS=10 PER_FLOW=5

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_http_server "$HTTP_PORT"
for port in "${PORTS[@]}"; do start_udp_sink "$port" "$TL_WORK/udp-$port.txt"; done
sleep 0.5  # the sinks bind

cat >"$TL_WORK/hostile.lua" <<'LUA'
function on_flow(f)
  local p = f.dest_port
  if p == 9001 then return setmetatable({}, {__tostring = function() error("x") end}) end
  if p == 9002 then setmetatable({}, {__gc = function() while true do end end}) end
  if p == 9003 then for i = 1, 3000 do string.rep("x", 1e6) end end
  if p == 9004 then return string.rep("a", 800):find("(.-)(.-)(.-)x") end
  if p == 9005 then while true do end end
  if p == 9006 then local s = string.rep("e", 40000) error(s .. s .. s) end
  if p == 9007 then print(string.rep("p", 100000)) end
  if p == 9008 then local t = {} for i = 1, 1e7 do t[i] = -i end table.sort(t) end
end
LUA
write_config "$TL_WORK/hostile.toml" accept "$TL_WORK/events.json"
cat >>"$TL_WORK/hostile.toml" <<TOML
[lua]
script = "$TL_WORK/hostile.lua"
budget = 100000000          # only the wall clock and the C-work charge stop these
max_call_ms = 20
max_consecutive_errors = 1000000
TOML
start_tripline "$TRIPLINE" "$TL_WORK/hostile.toml" "$TL_WORK/tripline.log"
PID=$TL_DAEMON

log "hostile script loaded: UDP to ${PORTS[*]}, $FLOWS flows x $PER_FLOW datagrams each"
start=$(date +%s%N)
for port in "${PORTS[@]}"; do send_udp "$SERVER4" "$port" "$FLOWS" "$PER_FLOW" "p$port"; done
ok=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 5)
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
(( ok == 5 )) || fail "HTTP with the hostile script loaded: $ok of 5 downloads complete"
want=$(( FLOWS * PER_FLOW ))
for port in "${PORTS[@]}"; do
  n=$(count_received "$TL_WORK/udp-$port.txt" "p$port" "$want")
  (( n == want )) || fail "UDP $port: $n of $want datagrams arrived"
done
kill -0 "$PID" 2>/dev/null || fail "tripline died"
log "all datagrams and 5/5 downloads arrived in ${elapsed_ms} ms; the daemon is alive"

queued=$(check_queue_table)
stop_tripline "$PID"
LOG="$TL_WORK/tripline.log"
(( $(counter_value "$LOG" packets) == queued )) || fail "kernel queued $queued packets, tripline judged $(counter_value "$LOG" packets)"
errors=$(counter_value "$LOG" lua_errors)
time_over=$(counter_value "$LOG" lua_time_exceeded)
budget_over=$(counter_value "$LOG" lua_budget_exceeded)
(( errors >= 6 * FLOWS )) || fail "only $errors script errors counted (6 x $FLOWS flows fail)"
(( time_over >= FLOWS )) || fail "the endless loop: only $time_over time overruns counted"
(( budget_over >= 2 * FLOWS )) || fail "string.rep and the pattern: only $budget_over budget overruns counted"
size=$(stat -c %s "$LOG")
(( size < 300000 )) || fail "the log grew to $size bytes"
log "counted: $errors errors, $time_over time and $budget_over budget overruns, $(counter_value "$LOG" lua_memory_exceeded) memory; log $size bytes"
log "PASS"
