#!/usr/bin/env bash
# The systemd notify and watchdog protocol (Type=notify, WatchdogSec=) on real
# NFQUEUE queues, with this test playing systemd: a datagram socket named by
# NOTIFY_SOCKET, WATCHDOG_USEC=1 s. Checks that
#   1. READY=1 arrives once both queues are bound (the listener reads the
#      gw's queue table when READY arrives);
#   2. STATUS lines carry packets/s, and show traffic while there is some;
#   3. WATCHDOG=1 pings come at least every half second while workers run;
#   4. a stuck worker stops them: a trigger whose on_flow loops for seconds
#      (the largest instruction budget, stopped only by max_call_ms = 3000)
#      leaves a gap longer than WATCHDOG_USEC, so systemd would restart the
#      daemon; the pings resume once the call is cut off;
#   5. SIGHUP (ExecReload) sends RELOADING=1, then READY=1 once reloaded;
#   6. SIGTERM sends STOPPING=1 and the daemon exits 0.
#   systemd_notify_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: systemd_notify_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
HTTP_PORT=8080
SLOW_PORT=2323
WATCHDOG_USEC=1000000

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_http_server "$HTTP_PORT"

# The listener: one line per message, "<monotonic seconds> <fields | joined>";
# on READY it appends the number of bound queues it sees at that moment.
SOCK="$TL_WORK/notify.sock"
MSGS="$TL_WORK/notify.txt"
cat >"$TL_WORK/fake_systemd.py" <<'PY'
import socket, sys, time
path, out = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "w", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode()
        line = "%.3f %s" % (time.monotonic(), msg.replace("\n", " | "))
        if "READY=1" in msg.split("\n"):
            with open("/proc/net/netfilter/nfnetlink_queue") as q:
                line += " | bound_queues=%d" % len(q.read().splitlines())
        f.write(line + "\n")
PY
start_bg "$NS_G" "$TL_WORK/fake_systemd.log" "$PY" "$TL_WORK/fake_systemd.py" "$SOCK" "$MSGS"
for _ in $(seq 50); do [[ -S $SOCK ]] && break; sleep 0.1; done
[[ -S $SOCK ]] || fail "the fake systemd did not bind $SOCK"

cat >"$TL_WORK/slow.lua" <<LUA
-- A flow to port $SLOW_PORT keeps its worker busy until max_call_ms stops it.
function on_flow(f)
  if f.dest_port == $SLOW_PORT then
    local n = 0
    while true do n = n + 1; local t = {tostring(n), tostring(-n), {n}} end
  end
end
LUA
write_config "$TL_WORK/tripline.toml" accept "$TL_WORK/events.json"
cat >>"$TL_WORK/tripline.toml" <<TOML
[lua]
script = "$TL_WORK/slow.lua"
budget = 100000000
max_call_ms = 3000
TOML
LOG="$TL_WORK/tripline.log"
start_bg "$NS_G" "$LOG" env NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=$WATCHDOG_USEC \
  "$TRIPLINE" run -c "$TL_WORK/tripline.toml"
PID=$BG_PID

# 1. READY once both queues are bound.
for _ in $(seq 100); do grep -q 'READY=1' "$MSGS" && break; sleep 0.05; done
ready=$(grep 'READY=1' "$MSGS" || true)
[[ -n $ready ]] || fail "no READY=1 within 5 s"
[[ $ready == *"bound_queues=2"* ]] || fail "READY=1 before both queues were bound: $ready"
log "READY: $ready"

# 2. STATUS with the packet rate while traffic flows.
ok=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 20)
(( ok == 20 )) || fail "HTTP under tripline: $ok of 20 downloads complete"
sleep 1.5
grep -q 'STATUS=queues 0..1: [0-9]* packets/s, [0-9]* packets' "$MSGS" ||
  fail "no STATUS line with packets/s"
grep -Eq 'STATUS=queues 0..1: [1-9][0-9]* packets/s' "$MSGS" ||
  fail "no STATUS line showed a packet rate above 0 during traffic"
log "STATUS: $(grep -o 'STATUS=queues[^|]*' "$MSGS" | sort -t: -k2 -n | tail -1)"

# Gaps between consecutive WATCHDOG=1 pings after monotonic time $1 (and
# before $2, if given): prints "count max_gap".
ping_gaps() {
  awk -v from="$1" -v to="${2:-1e18}" '/WATCHDOG=1/ && $1 >= from && $1 <= to {
      if (n++) { g = $1 - last; if (g > max) max = g } last = $1 }
    END { printf "%d %.3f\n", n, max }' "$MSGS"
}
now() { "$PY" -c 'import time; print("%.3f" % time.monotonic())'; }

# 3. Regular pings while every worker makes progress (idle or busy).
t0=$(now)
sleep 3
read -r pings max_gap < <(ping_gaps "$t0")
(( pings >= 5 )) || fail "$pings WATCHDOG pings in 3 s, expected at least 5 (every 0.5 s)"
awk -v g="$max_gap" 'BEGIN { exit !(g < 0.9) }' || fail "WATCHDOG pings $max_gap s apart while healthy"
log "healthy: $pings pings in 3 s, largest gap $max_gap s"

# 4. A stuck worker: no pings for longer than WATCHDOG_USEC, then they resume.
t1=$(now)
in_ns "$NS_C" curl -s --max-time 15 -o /dev/null "http://$SERVER4:$SLOW_PORT/" || true
for _ in $(seq 100); do
  grep -q 'made no progress' "$LOG" && grep -q 'makes progress again' "$LOG" && break
  sleep 0.1
done
sleep 1.5
t2=$(now)
read -r pings max_gap < <(ping_gaps "$t1" "$t2")
awk -v g="$max_gap" -v w=$WATCHDOG_USEC 'BEGIN { exit !(g > w / 1e6) }' ||
  fail "WATCHDOG pings went on while a worker was stuck (largest gap $max_gap s)"
grep -q 'made no progress' "$LOG" || fail "no warning about the stuck worker in the log"
read -r after _ < <(ping_gaps "$(awk -v t="$t2" 'BEGIN { print t - 1.2 }')")
(( after >= 2 )) || fail "WATCHDOG pings did not resume after the worker came back"
log "stuck worker: pings stopped for $max_gap s (> $((WATCHDOG_USEC / 1000)) ms), then resumed"

# 5. A reload (ExecReload sends SIGHUP): RELOADING=1, then READY=1 again.
readies=$(grep -c 'READY=1' "$MSGS" || true)
kill -HUP "$PID"
for _ in $(seq 100); do
  (( $(grep -c 'READY=1' "$MSGS" || true) > readies )) && break
  sleep 0.05
done
grep -q 'RELOADING=1' "$MSGS" || fail "no RELOADING=1 after SIGHUP"
(( $(grep -c 'READY=1' "$MSGS" || true) > readies )) || fail "no READY=1 after the reload"
[[ $(grep -n 'RELOADING=1' "$MSGS" | tail -1 | cut -d: -f1) -lt \
   $(grep -n 'READY=1' "$MSGS" | tail -1 | cut -d: -f1) ]] || fail "READY=1 came before RELOADING=1"
log "SIGHUP: RELOADING=1, then READY=1"

# 6. STOPPING on SIGTERM, clean exit.
stop_tripline "$PID"
grep -q 'STOPPING=1' "$MSGS" || fail "no STOPPING=1 after SIGTERM"
log "STOPPING=1 sent; tripline exited 0"
echo "PASS"
