#!/usr/bin/env bash
# Signals during shutdown, on real NFQUEUE queues: a second SIGTERM (and a
# SIGUSR1) while tripline is still shutting down must not kill it; it exits 0
# with every flow event, the counter summary and the DNS state file written.
# A third SIGTERM exits at once with status 143 (documented hard exit).
# A trigger that takes about a millisecond per flow end makes the shutdown
# (every flow ends) last long enough for the later signals to arrive during it.
#   signals_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: signals_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
UDP_PORT=9997
FLOWS=3000

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_udp_sink "$UDP_PORT" "$TL_WORK/udp.out"

cat >"$TL_WORK/slow_end.lua" <<'LUA'
-- Busy for a while at every flow end (within the instruction budget).
function on_flow_end(f)
  local x = 0
  for i = 1, 100000 do x = x + i end
end
LUA

# $1 = config file, $2 = events file, $3 = DNS state file
write_signals_config() {
  cat >"$1" <<TOML
[lua]
script = "$TL_WORK/slow_end.lua"
budget = 2000000
[queue]
first = 0
count = 2
[log]
events = "$2"
[dns]
resolvers = ["$SERVER4"]
state_file = "$3"
TOML
}

# $FLOWS one-datagram UDP flows (each from its own socket, so its own port).
send_flows() {
  in_ns "$NS_C" "$PY" -c '
import socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"f %d" % i, (addr, port))
    s.close()
' "$SERVER4" "$UDP_PORT" "$FLOWS"
}

# Waits (bounded, 15 s) for pid $1 to exit; its status is in RC.
wait_exit() {
  local pid=$1 i
  for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "tripline still running 15 s after the signals"
  RC=0
  wait "$pid" || RC=$?
}

# ---------------------------------------------------------------- two TERMs and a USR1
log "phase 1: SIGTERM, then SIGTERM and SIGUSR1 during the shutdown"
write_signals_config "$TL_WORK/a.toml" "$TL_WORK/events-a.json" "$TL_WORK/dns-a.state"
start_tripline "$TRIPLINE" "$TL_WORK/a.toml" "$TL_WORK/tripline-a.log"
PID=$TL_DAEMON
send_flows
sleep 0.5
kill -TERM "$PID"
sleep 0.2
kill -TERM "$PID" 2>/dev/null || true
sleep 0.1
kill -USR1 "$PID" 2>/dev/null || true
wait_exit "$PID"
(( RC == 0 )) || fail "tripline exited with status $RC after a second SIGTERM during shutdown"
summaries=$(grep -c '^packets ' "$TL_WORK/tripline-a.log" || true)
(( summaries >= 2 )) || fail "$summaries counter summaries (SIGUSR1 during shutdown and the exit one)"
[[ -s $TL_WORK/dns-a.state ]] || fail "no DNS state saved at shutdown"
# Every flow tripline tracked ends at shutdown (UDP timeout 60 s) with an event.
# (Closed sockets' ports are reused, so the client's flows are fewer than $FLOWS.)
created=$(counter_value "$TL_WORK/tripline-a.log" flows_created)
(( created >= FLOWS / 2 )) || fail "only $created flows tracked"
"$PY" - "$TL_WORK/events-a.json" "$created" <<'PY' || fail "flow events lost"
import json, sys
path, want = sys.argv[1], int(sys.argv[2])
ends = sum(1 for line in open(path)
           if (e := json.loads(line)).get("event_type") == "flow" and e["flow"]["reason"] == "shutdown")
if ends != want:
    sys.exit(f"{ends} flow events with reason shutdown, {want} flows created")
print(f"{ends} flow events at shutdown", file=sys.stderr)
PY
wait_queues_unbound || fail "queues still bound after tripline exited"
log "exit 0 after TERM, TERM, USR1; $summaries summaries; DNS state saved"

# ---------------------------------------------------------------- three TERMs
log "phase 2: a third SIGTERM during the shutdown exits at once"
write_signals_config "$TL_WORK/b.toml" "$TL_WORK/events-b.json" "$TL_WORK/dns-b.state"
start_tripline "$TRIPLINE" "$TL_WORK/b.toml" "$TL_WORK/tripline-b.log"
PID=$TL_DAEMON
send_flows
sleep 0.5
kill -TERM "$PID"
sleep 0.2
kill -TERM "$PID" 2>/dev/null || true
sleep 0.1
kill -TERM "$PID" 2>/dev/null || true
wait_exit "$PID"
(( RC == 143 )) || fail "status $RC after three SIGTERMs, want 143 (128 + SIGTERM)"
wait_queues_unbound || fail "queues still bound after tripline exited"

in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" down
log "PASS"
