#!/usr/bin/env bash
# Reload without restart (SIGHUP) on real NFQUEUE queues while traffic flows
# (client — gw — server, contrib iptables rules on the gw, two queues):
#   1. the [egress] allow list and the Lua script are edited (and a
#      restart-only key, queue.count): the new allow entry and the new script
#      apply to new flows, the restart-only key is named and kept;
#   2. a script with a syntax error is refused (the log names file:line) and
#      the running one keeps deciding;
#   3. a configuration that does not parse changes nothing;
#   4. the event log moved away (as logrotate does) is reopened at its path;
# and throughout, a probe flow (one UDP datagram a millisecond, each carrying
# its send time) loses nothing, every queued packet gets its verdict, and the
# longest time a probe datagram took from client to server during a reload is
# reported next to the same figure outside reloads (one clock: the namespaces
# share it).
#   reload_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: reload_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
PROBE_PORT=5000
PROBE_COUNT=${PROBE_COUNT:-9000}  # at 1 ms apart: about 10 s of traffic

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_udp_sink 5001 "$TL_WORK/sink.txt"
SINK_PID=$BG_PID

# Probe receiver: "seq sent_ns received_ns" per datagram.
start_bg "$NS_S" "$TL_WORK/probe_rx.log" "$PY" -u -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
with open(sys.argv[2], "w") as f:
    while True:
        data = s.recv(256)
        now = time.clock_gettime_ns(time.CLOCK_REALTIME)
        f.write(f"{data.decode()} {now}\n")
        f.flush()
' "$PROBE_PORT" "$TL_WORK/probe.txt"

SCRIPT="$TL_WORK/t.lua"
CONF="$TL_WORK/reload.toml"
EVENTS="$TL_WORK/events.json"
drop_port_script() {  # a trigger that drops new UDP flows to port $1
  cat >"$SCRIPT" <<LUA
function on_flow(f)
  if f.proto == "UDP" and f.dest_port == $1 then return "drop" end
end
LUA
}
config() {  # config QUEUE_COUNT ALLOW...
  local count=$1; shift
  local allow="" a
  for a in "$@"; do allow+="${allow:+, }\"$a\""; done
  cat >"$CONF" <<TOML
[queue]
first = 0
count = $count
default_verdict = "accept"
[network]
inside = ["10.201.1.0/24", "fd00:201:1::/64"]
[log]
events = "$EVENTS"
[egress]
mode = "enforce"
allow = [$allow]
[lua]
script = "$SCRIPT"
TOML
}

LOG="$TL_WORK/tripline.log"
drop_port_script 5002
config 2 "$SERVER4/32"
start_tripline "$TRIPLINE" "$CONF" "$LOG"
PID=$TL_DAEMON

# Sends one UDP datagram on a new flow (own socket) per call; prints how many
# of `n` reached the sink with this tag.
new_flows() {  # new_flows ADDR PORT N TAG
  send_udp "$1" "$2" "$3" 1 "$4"
  count_received "$TL_WORK/sink.txt" "$4" "$3" 2
}
# For ports other than the sink's: a sink per port is not needed, the
# verdict counters tell. Prints tripline's counter $1 now.
counter_now() { sleep 0.3; dump_counters "$PID" "$LOG"; counter_value "$LOG" "$1"; }

# Before any reload: v4 allowed, v6 blocked by egress.
(( $(new_flows "$SERVER4" 5001 3 before4) == 3 )) || fail "v4 to the allowed server did not pass"
(( $(new_flows "$SERVER6" 5001 3 before6) == 0 )) || fail "v6 passed though not in the egress allow list"

# The probe flow, running through every reload below.
PROBE_START=$(date +%s%N)
start_bg "$NS_C" "$TL_WORK/probe_tx.log" "$PY" -c '
import socket, sys, time
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
deadline = time.monotonic() + 60
for i in range(count):
    if time.monotonic() > deadline:
        break
    s.sendto(f"{i} {time.clock_gettime_ns(time.CLOCK_REALTIME)}".encode(), (addr, port))
    time.sleep(0.001)
print(i + 1)
' "$SERVER4" "$PROBE_PORT" "$PROBE_COUNT"
PROBE_PID=$BG_PID
sleep 1

WINDOWS="$TL_WORK/windows.txt"
: >"$WINDOWS"
# Sends SIGHUP and waits (bounded) for the reload's log line; records the
# window [signal, line seen] for the latency figures.
reload() {
  local before i t0 t1
  before=$(grep -c 'reload \(applied\|refused\)' "$LOG" || true)
  t0=$(date +%s%N)
  kill -HUP "$PID"
  for i in $(seq 100); do
    (( $(grep -c 'reload \(applied\|refused\)' "$LOG" || true) > before )) && break
    sleep 0.05
  done
  t1=$(date +%s%N)
  (( $(grep -c 'reload \(applied\|refused\)' "$LOG" || true) > before )) ||
    fail "no reload line in the log within 5 s of SIGHUP"
  echo "$t0 $t1" >>"$WINDOWS"
  sleep 0.5
}

log "1: egress allow gains $SERVER6, the script now drops 5003, queue.count 2 -> 3"
drop_port_script 5003
config 3 "$SERVER4/32" "$SERVER6/128"
reload
grep -q 'reload applied' "$LOG" || fail "1: reload not applied"
grep 'reload: ' "$LOG" | grep -q 'queue.count' || fail "1: the restart-only queue.count was not named"
(( $(queue_table | wc -l) == 2 )) || fail "1: queue count changed without a restart"
(( $(new_flows "$SERVER6" 5001 3 after6) == 3 )) || fail "1: v6 still blocked after the allow list grew"
# The script: 5002 now passes (a flow to 5002 counts as accepted), 5003 is dropped.
drops=$(counter_now lua_verdicts)
send_udp "$SERVER4" 5003 3 1 x5003
send_udp "$SERVER4" 5002 3 1 x5002
(( $(counter_now lua_verdicts) == drops + 3 )) || fail "1: the new script did not drop exactly the 3 flows to 5003"

log "2: a script with a syntax error is refused; the running one stays"
printf 'function on_flow(f)\n  return (\nend\n' >"$SCRIPT"
reload
grep 'reload refused' "$LOG" | tail -1 | grep -q "t.lua:3:" ||
  fail "2: the refusal does not name t.lua:3: $(grep 'reload refused' "$LOG" | tail -1)"
drops=$(counter_now lua_verdicts)
send_udp "$SERVER4" 5003 2 1 y5003
(( $(counter_now lua_verdicts) == drops + 2 )) || fail "2: the running script stopped dropping 5003"

log "3: a configuration that does not parse changes nothing"
drop_port_script 5004
cp "$CONF" "$CONF.good"
printf '[egress\nmode = "off"\n' >"$CONF"
reload
grep 'reload refused' "$LOG" | tail -1 | grep -q "reload.toml" || fail "3: the refusal does not name the file"
(( $(new_flows "$SERVER6" 5001 2 still6) == 2 )) || fail "3: v6 blocked again after a refused reload"
drops=$(counter_now lua_verdicts)
send_udp "$SERVER4" 5003 2 1 z5003
(( $(counter_now lua_verdicts) == drops + 2 )) || fail "3: the script changed after a refused reload"

log "4: the event log moved away is reopened at its path"
cp "$CONF.good" "$CONF"
mv "$EVENTS" "$EVENTS.1"
reload
grep 'reload applied' "$LOG" | tail -1 | grep -q 'event log .* reopened' || fail "4: no reopen in the reload line"
# A blocked new flow (egress: not in the allow list) writes an alert to the new file.
send_udp 10.201.2.77 5001 1 1 blocked
expect_event "$EVENTS" "4: no event in the reopened log" "e.get('event_type') == 'alert'"

log "waiting for the probe to finish"
for _ in $(seq 600); do kill -0 "$PROBE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PROBE_PID" 2>/dev/null && fail "probe sender did not finish"
sent=$(tail -1 "$TL_WORK/probe_tx.log")
sleep 0.5
received=$(wc -l <"$TL_WORK/probe.txt")
(( received == sent )) || fail "probe: $received of $sent datagrams arrived across the reloads"

queued=$(check_queue_table)
stop_tripline "$PID"
judged=$(counter_value "$LOG" packets)
(( judged == queued )) || fail "kernel queued $queued packets, tripline judged $judged"
(( $(counter_value "$LOG" nfq_lost_ids) == 0 )) || fail "packet ids lost"

# Probe latency (send to receive, one clock) inside the reload windows
# (SIGHUP .. its log line + 200 ms) against the rest of the run.
"$PY" - "$TL_WORK/probe.txt" "$WINDOWS" <<'PY' | tee "$TL_WORK/latency.txt" >&2
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
wins = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
inside, outside = [], []
for seq, sent, recv in rows:
    lat = (recv - sent) / 1e6
    (inside if any(a <= sent <= b + 200_000_000 for a, b in wins) else outside).append(lat)
def q(v, p): return sorted(v)[min(len(v) - 1, int(p * len(v)))] if v else 0.0
print(f"probe latency during {len(wins)} reloads: max {max(inside, default=0):.3f} ms, "
      f"p99 {q(inside, .99):.3f} ms over {len(inside)} datagrams; "
      f"outside reloads: max {max(outside, default=0):.3f} ms, p99 {q(outside, .99):.3f} ms "
      f"over {len(outside)}")
PY
grep 'reload applied' "$LOG" | sed 's/.*the longest worker pause/worker pause/' >&2
log "PASS: reloads applied while traffic flowed; $received/$sent probe datagrams, $judged packets judged"
