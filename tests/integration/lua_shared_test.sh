#!/usr/bin/env bash
# The store shared by all workers, live on two queues (queue-balance):
# lua/scripts/new_flow_rate.lua with MAX_FLOWS = 10 sees a client open 20 UDP
# flows at once to 20 server addresses (queue-balance hashes by address, so
# they spread over both queues). Counted in the shared store, exactly the
# flows past the 10th are dropped, whichever queue they came through (per-
# worker globals would drop only what one queue saw beyond 10), with one
# alert; a new flow just after is dropped too (the client is blocked), and
# every queued packet got its verdict.
#   lua_shared_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: lua_shared_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
PORT=9999
FLOWS=20
MAX=10

setup_topology
ADDRS=()
for i in $(seq 10 $(( 10 + FLOWS ))); do  # FLOWS for the burst, one more for the blocked flow
  ip -n "$NS_S" addr add "10.201.2.$i/32" dev s0
  ADDRS+=("10.201.2.$i")
done
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_udp_sink "$PORT" "$TL_WORK/received.txt"

sed -e "s/^local MAX_FLOWS = 50$/local MAX_FLOWS = $MAX/" \
  "$ROOT/lua/scripts/new_flow_rate.lua" >"$TL_WORK/new_flow_rate.lua"
grep -q "^local MAX_FLOWS = $MAX$" "$TL_WORK/new_flow_rate.lua" ||
  fail "new_flow_rate.lua has no 'local MAX_FLOWS = 50' line to set"
write_config "$TL_WORK/rate.toml" accept "$TL_WORK/events.json"
cat >>"$TL_WORK/rate.toml" <<TOML
[lua]
script = "$TL_WORK/new_flow_rate.lua"
TOML
start_tripline "$TRIPLINE" "$TL_WORK/rate.toml" "$TL_WORK/tripline.log"
PID=$TL_DAEMON

# One datagram (one flow) to each address, from one socket each, at once.
send_to() {  # tag addr...
  local tag=$1; shift
  in_ns "$NS_C" "$PY" -c '
import socket, sys
port, tag = int(sys.argv[1]), sys.argv[2]
for n, addr in enumerate(sys.argv[3:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(f"{tag} flow {n}".encode(), (addr, port))
    s.close()
' "$PORT" "$tag" "$@"
}

log "burst: $FLOWS flows from $CLIENT4 at once, limit $MAX a second"
send_to burst "${ADDRS[@]:0:FLOWS}"
got=$(count_received "$TL_WORK/received.txt" burst "$FLOWS" 2)
(( got == MAX )) || fail "burst: $got of $FLOWS flows arrived; expected exactly $MAX (the rest dropped)"
# Both workers took part: the kernel's id sequence per queue counts the
# packets each got (one per flow; nothing else is forwarded here).
read -r q0 q1 < <(queue_table | awk '{s[$1] = $8} END {print s[0] + 0, s[1] + 0}')
log "queue 0 got $q0 flows, queue 1 got $q1"
(( q0 + q1 == FLOWS )) || fail "queues got $q0 + $q1 packets, expected $FLOWS"
(( q0 > 0 && q1 > 0 )) || fail "every flow hashed to one queue: this run cannot show sharing"
# What per-worker counters would have dropped: each queue's flows beyond MAX.
per_worker=$(( (q0 > MAX ? q0 - MAX : 0) + (q1 > MAX ? q1 - MAX : 0) ))
log "dropped $(( FLOWS - got )) (per-worker counting would have dropped $per_worker)"

send_to late "${ADDRS[FLOWS]}"
sleep 0.5
late=$(count_received "$TL_WORK/received.txt" late 1 1)
(( late == 0 )) || fail "a new flow during the block arrived"

expect_event "$TL_WORK/events.json" "no alert for the flow rate" \
  "e.get('event_type') == 'alert' and 'opened more than $MAX flows' in e['alert']['signature'] and e['src_ip'] == '$CLIENT4'"
queued=$(check_queue_table)
stop_tripline "$PID"
alerts=$("$PY" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("event_type") == "alert"))' "$TL_WORK/events.json")
(( alerts == 1 )) || fail "$alerts alerts; expected one (both workers crossed the limit once between them)"
LOG="$TL_WORK/tripline.log"
(( $(counter_value "$LOG" packets) == queued )) || fail "kernel queued $queued packets, tripline judged fewer"
(( $(counter_value "$LOG" lua_errors) == 0 )) || fail "lua errors with the shipped script"
(( $(counter_value "$LOG" lua_verdicts) == FLOWS - MAX + 1 )) ||
  fail "lua_verdicts $(counter_value "$LOG" lua_verdicts), expected $(( FLOWS - MAX + 1 ))"
log "PASS"
