#!/usr/bin/env bash
# The event log on a FIFO, with real queues: a FIFO nobody reads must not
# block start-up (traffic is judged), and a reader that stalls must cost
# events (counted), never memory or a hung shutdown: SIGTERM ends within the
# drain time with exit 0 and a counter summary where every event is written,
# dropped or lost.
#   event_log_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: event_log_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
UDP_PORT=9999
FLOWS=4000

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_udp_sink "$UDP_PORT" "$TL_WORK/udp.out"

FIFO=$TL_WORK/eve.fifo
mkfifo "$FIFO"
cat >"$TL_WORK/fifo.toml" <<TOML
[queue]
first = 0
count = 2
[log]
events = "$FIFO"
queue_mb = 1
TOML

# ------------------------------------------------ no reader: start-up goes on
log "phase 1: events to a FIFO nobody reads"
start_bg "$NS_G" "$TL_WORK/tripline.log" "$TRIPLINE" run -c "$TL_WORK/fifo.toml"
DAEMON=$BG_PID
wait_queues_bound 2 || fail "tripline did not bind its queues with a reader-less FIFO as event log"
send_udp "$SERVER4" "$UDP_PORT" 10 5 p1
got=$(count_received "$TL_WORK/udp.out" p1 50)
(( got == 50 )) || fail "with a reader-less FIFO as event log, $got of 50 datagrams arrived"
log "queues bound and traffic judged: $got/50 datagrams"

# ------------------------------------------------ a reader that never reads
log "phase 2: a reader opens the FIFO and stalls; $FLOWS flows"
start_bg "$NS_G" "$TL_WORK/reader.log" "$PY" -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)  # opened, never read
time.sleep(600)
' "$FIFO"
# Many short UDP flows: a flow event each at shutdown, far more than a pipe holds.
in_ns "$NS_C" "$PY" -c '
import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"p2 %d" % i, (addr, port))
    s.close()
    if i % 20 == 19:
        time.sleep(0.01)  # paced: the sink (python) must not drop any
' "$SERVER4" "$UDP_PORT" "$FLOWS"
got=$(count_received "$TL_WORK/udp.out" p2 "$FLOWS" 10)
(( got == FLOWS )) || fail "with a stalled event reader, $got of $FLOWS datagrams arrived"
log "traffic judged with the reader stalled: $got/$FLOWS datagrams"

# ------------------------------------------------ shutdown is bounded
started=$(date +%s%N)
kill -TERM "$DAEMON"
for _ in $(seq 300); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.05; done
kill -0 "$DAEMON" 2>/dev/null && fail "tripline did not exit within 15 s of SIGTERM (stalled event reader)"
rc=0
wait "$DAEMON" || rc=$?
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
(( rc == 0 )) || fail "tripline exited with status $rc after SIGTERM"
wait_queues_unbound || fail "queues still bound after tripline exited"
log "SIGTERM with a stalled reader: exit 0 after $took_ms ms"

written=$(counter_value "$TL_WORK/tripline.log" events_written)
dropped=$(counter_value "$TL_WORK/tripline.log" events_dropped)
lost=$(counter_value "$TL_WORK/tripline.log" events_lost)
flows=$(counter_value "$TL_WORK/tripline.log" flows_created)
log "events: written $written, dropped $dropped, lost $lost (flows $flows)"
(( flows >= 1000 )) || fail "only $flows flows seen (ports are reused, but not that much)"
(( dropped + lost > 0 )) || fail "a stalled reader lost no event: written $written of $flows"
# Every flow ended in one event, and each is counted once as written, dropped or lost.
(( written + dropped + lost == flows )) ||
  fail "events do not add up: written $written + dropped $dropped + lost $lost != $flows flows"
grep -q "event log .* not written\|events_lost\|write failed" "$TL_WORK/tripline.log" ||
  fail "no log line says events were lost"
log "PASS"
