#!/usr/bin/env bash
# Start-up with many queues, on real NFQUEUE queues: traffic goes to the first
# queue while tripline binds 48; the first queue's packets must be judged
# (verdicts given) before the last queue is bound, not only once all are.
#   many_queues_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: many_queues_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
UDP_PORT=9996
QUEUES=48
FIRST=0
LAST=$(( FIRST + QUEUES - 1 ))

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up "$FIRST" 1   # all to queue FIRST
start_udp_sink "$UDP_PORT" "$TL_WORK/udp.out"
cat >"$TL_WORK/many.toml" <<TOML
[queue]
first = $FIRST
count = $QUEUES
[log]
events = ""
TOML

# A steady UDP stream (about 4,000 datagrams/s) through queue FIRST, at most 20 s.
start_bg "$NS_C" "$TL_WORK/stream.log" "$PY" -c '
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 20
while time.monotonic() < end:
    for _ in range(20):
        s.sendto(b"m", (addr, port))
    time.sleep(0.005)
' "$SERVER4" "$UDP_PORT"
STREAM_PID=$BG_PID

# Watches the gw's queue table from inside the namespace until queue LAST is
# listed (bound): prints the most packets queue FIRST had been given verdicts
# for (id sequence - waiting) in a reading where LAST was not yet bound.
start_bg "$NS_G" "$TL_WORK/watch.out" "$PY" -c '
import sys, time
first, last = int(sys.argv[1]), int(sys.argv[2])
best, readings = -1, 0
end = time.monotonic() + 20
while time.monotonic() < end:
    rows = {}
    with open("/proc/net/netfilter/nfnetlink_queue") as f:
        for line in f:
            c = line.split()
            rows[int(c[0])] = c
    readings += 1
    if last in rows:
        break
    if first in rows:
        best = max(best, int(rows[first][7]) - int(rows[first][2]))
print(best, readings, last in rows, flush=True)
' "$FIRST" "$LAST"
WATCH_PID=$BG_PID
sleep 0.3

start_bg "$NS_G" "$TL_WORK/tripline.log" "$TRIPLINE" run -c "$TL_WORK/many.toml"
TL_DAEMON=$BG_PID
wait "$WATCH_PID" || fail "queue watcher failed"
read -r judged readings last_bound <"$TL_WORK/watch.out"
[[ $last_bound == True ]] || fail "queue $LAST was never bound"
log "queue $FIRST: $judged packets judged before queue $LAST was bound ($readings readings)"
(( judged >= 10 )) ||
  fail "queue $FIRST judged $judged packets before queue $LAST was bound: workers start only after every bind"

wait_queues_bound "$QUEUES" || fail "tripline did not bind $QUEUES queues"
stop_tripline "$TL_DAEMON"
kill "$STREAM_PID" 2>/dev/null || true
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" down
log "PASS"
