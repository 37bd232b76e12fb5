#!/usr/bin/env bash
# Packets that cross uninspected are counted, on real NFQUEUE queues with the
# contrib iptables rules:
#  1. bypass: the rule balances over queues 0..1, tripline binds only queue 0
#     (count = 1), so the client addresses hashed to queue 1 pass unjudged;
#  2. fail-open: a flood into a queue of 2 packets (max_len) with fail_open;
#  3. fail-closed: the same flood with fail_open = false is dropped, counted.
# In each, the queue rule's own packet counter (read here with iptables) must
# equal what tripline judged plus what it reports as not judged
# (nfq_uninspected, nfq_lost_ids, nfq_queue_dropped), and the fail-open figure
# must be above zero and logged.
#   fail_open_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: fail_open_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
UDP_PORT=9995

setup_topology
start_udp_sink "$UDP_PORT" "$TL_WORK/udp.out"

# Packets counted by the NFQUEUE rule(s) of chain TRIPLINE (IPv4).
rule_packets() {
  in_ns "$NS_G" iptables -w -L TRIPLINE -v -x -n | awk '$3 == "NFQUEUE" {s += $1} END {print s + 0}'
}

# $1 = config, $2 = log, then "name value" pairs of the run are in the log.
run_phase() {
  local config=$1 logfile=$2 queues=$3 before after
  before=$(rule_packets)
  start_bg "$NS_G" "$logfile" "$TRIPLINE" run -c "$config"
  TL_DAEMON=$BG_PID
  wait_queues_bound "$queues" || fail "tripline did not bind $queues queues"
  shift 3
  "$@"  # the traffic
  sleep 0.3
  stop_tripline "$TL_DAEMON"
  after=$(rule_packets)
  RULE=$(( after - before ))
  JUDGED=$(counter_value "$logfile" packets)
  UNINSPECTED=$(counter_value "$logfile" nfq_uninspected)
  LOST=$(counter_value "$logfile" nfq_lost_ids)
  QDROP=$(counter_value "$logfile" nfq_queue_dropped)
  log "rule $RULE, judged $JUDGED, uninspected $UNINSPECTED, lost ids $LOST, queue_dropped $QDROP"
  grep -q '^nfq_uninspected ' "$logfile" || fail "no nfq_uninspected in the counter summary"
  (( JUDGED + UNINSPECTED + LOST + QDROP == RULE )) ||
    fail "the queue rule counted $RULE packets; tripline judged $JUDGED and reports $UNINSPECTED uninspected, $LOST lost ids, $QDROP dropped at a full queue"
}

# The balance hash takes addresses only: 30 client addresses (3 datagrams
# each) spread over both queues (all on one: odds 2 in 2^30).
CLIENT_ADDRS=$(seq -f "10.201.1.%g" 100 129)
some_flows() {
  in_ns "$NS_C" "$PY" -c '
import socket, sys, time
server, port = sys.argv[1], int(sys.argv[2])
for src in sys.argv[3:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for i in range(3):
        s.sendto(b"b %s %d" % (src.encode(), i), (server, port))
        time.sleep(0.002)
' "$SERVER4" "$UDP_PORT" $CLIENT_ADDRS
}

# A flood: 20,000 datagrams over 16 flows as fast as Python sends them (bounded by count).
flood() {
  in_ns "$NS_C" "$PY" -c '
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
for i in range(20000):
    socks[i % 16].sendto(b"x" * 200, (addr, port))
' "$SERVER4" "$UDP_PORT"
}

# ---------------------------------------------------------------- bypass
log "phase bypass: queues 0..1 in the rule, tripline binds queue 0 only"
for a in $CLIENT_ADDRS; do ip -n "$NS_C" addr add "$a/24" dev c0; done
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
cat >"$TL_WORK/bypass.toml" <<TOML
[queue]
first = 0
count = 1
rule_counter = "iptables"
[log]
events = ""
TOML
run_phase "$TL_WORK/bypass.toml" "$TL_WORK/tripline-bypass.log" 1 some_flows
(( RULE == 90 )) || fail "bypass: the rule counted $RULE packets, 90 sent"
(( UNINSPECTED > 0 && JUDGED > 0 )) ||
  fail "bypass: $JUDGED judged, $UNINSPECTED counted uninspected: want some of each"
got=$(count_received "$TL_WORK/udp.out" b 90)
(( got == 90 )) || fail "bypass: $got of 90 datagrams arrived"
log "bypass: $UNINSPECTED of $RULE packets crossed uninspected and were counted"

# ---------------------------------------------------------------- fail-open
log "phase fail-open: a flood into queues of 2 packets, fail_open = true"
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 1
cat >"$TL_WORK/open.toml" <<TOML
[queue]
first = 0
count = 1
max_len = 2
fail_open = true
[log]
events = ""
TOML
run_phase "$TL_WORK/open.toml" "$TL_WORK/tripline-open.log" 1 flood
(( UNINSPECTED > 0 )) || fail "fail-open: a flood into a 2-packet queue, and nothing counted uninspected"
(( QDROP == 0 )) || fail "fail-open: $QDROP packets dropped at a full queue with fail_open"
grep -q ' warning ' "$TL_WORK/tripline-open.log" || fail "fail-open: nothing logged"
log "fail-open: $UNINSPECTED of $RULE packets ($(( 100 * UNINSPECTED / RULE )) %) crossed uninspected"

# ---------------------------------------------------------------- fail-closed
log "phase fail-closed: the same flood, fail_open = false"
sed 's/fail_open = true/fail_open = false/' "$TL_WORK/open.toml" >"$TL_WORK/closed.toml"
run_phase "$TL_WORK/closed.toml" "$TL_WORK/tripline-closed.log" 1 flood
(( QDROP > 0 )) || fail "fail-closed: a flood into a 2-packet queue, and nothing dropped"
(( UNINSPECTED == 0 )) || fail "fail-closed: $UNINSPECTED packets counted uninspected"
log "fail-closed: $QDROP of $RULE packets ($(( 100 * QDROP / RULE )) %) dropped at the full queue"

# ---------------------------------------------------------------- measure (optional)
# TL_MEASURE=1: the README's figure. Default queue settings (max_len 4096,
# batch 64), a flood of 3 x 200,000 datagrams of 64 bytes from 3 senders at
# once, with fail_open on and then off.
if [[ ${TL_MEASURE:-0} == 1 ]]; then
  big_flood() {
    local i pids=() t0
    t0=$(date +%s%N)
    for i in 1 2 3; do
      in_ns "$NS_C" "$PY" -c '
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
for i in range(200000):
    socks[i % 16].sendto(b"x" * 64, (addr, port))
' "$SERVER4" "$UDP_PORT" &
      pids+=($!)
    done
    wait "${pids[@]}"
    FLOOD_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  }
  for open in true false; do
    printf '[queue]\nfirst = 0\ncount = 1\nfail_open = %s\n[log]\nevents = ""\n' "$open" >"$TL_WORK/measure.toml"
    run_phase "$TL_WORK/measure.toml" "$TL_WORK/tripline-measure-$open.log" 1 big_flood
    log "measure fail_open = $open: $RULE packets reached the rule in $FLOOD_MS ms;" \
        "$(( RULE * 1000 / FLOOD_MS )) packets/s; judged $JUDGED," \
        "uninspected $UNINSPECTED + $LOST lost ids, dropped $QDROP + $(counter_value "$TL_WORK/tripline-measure-$open.log" nfq_user_dropped)"
  done
fi

in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" down
log "PASS"
