#!/usr/bin/env bash
# The Prometheus endpoint of the real daemon: client — gw — server namespaces,
# the contrib iptables rules on the gw queueing forwarded traffic to queues
# 0-1, tripline with [metrics] listen on the gw's loopback and an on_flow
# trigger. UDP from the client (20 flows x 10 datagrams), then a scrape with
# curl must show:
#   - tripline_packets_total (summed over the worker label) = the datagrams
#     sent, = the packets the kernel queued (tripline_nfqueue_queued_packets_total);
#     every one accepted; verdict latency histogram count = packets; Lua call
#     histogram count = flows; queue depth 0, no kernel drops; values that move
#     between two scrapes;
#   - `promtool check metrics` accepts the scrape with no lint problem;
#   - every metric the Grafana dashboard (contrib/grafana/tripline.json) queries
#     is in the scrape.
# A second daemon asking for the same port fails before binding any queue,
# leaving the first alone; `tripline check` refuses a bad address.
#   metrics_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: metrics_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
command -v curl >/dev/null || skip "needs curl"
command -v promtool >/dev/null || skip "needs promtool (Debian package prometheus)"
export TZ=UTC
UDP_PORT=9999
METRICS=127.0.0.1:9740
FLOWS=20
PER_FLOW=10

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_udp_sink "$UDP_PORT" "$TL_WORK/udp.out"

cat >"$TL_WORK/on_flow.lua" <<'LUA'
function on_flow(f)
  return nil
end
LUA
cat >"$TL_WORK/metrics.toml" <<TOML
[queue]
first = 0
count = 2
[log]
events = "$TL_WORK/events.json"
[dns]
resolvers = ["$SERVER4"]
[lua]
script = "$TL_WORK/on_flow.lua"
[metrics]
listen = "$METRICS"
TOML

start_tripline "$TRIPLINE" "$TL_WORK/metrics.toml" "$TL_WORK/tripline.log"

scrape() {
  local out=$1 i
  for i in $(seq 50); do
    in_ns "$NS_G" curl -sf --max-time 2 "http://$METRICS/metrics" -o "$out" && return 0
    sleep 0.1
  done
  fail "no answer from http://$METRICS/metrics"
}
# Sum of the samples of metric $2 in scrape $1 whose labels contain $3 (optional).
metric_sum() {
  awk -v name="$2" -v want="${3:-}" '
    /^#/ { next }
    { series = $1; base = series; sub(/\{.*/, "", base) }
    base == name && (want == "" || index(series, want) > 0) { s += $2; n++ }
    END { if (n == 0) print "none"; else printf "%.0f\n", s }' "$1"
}

scrape "$TL_WORK/before.prom"
(( $(metric_sum "$TL_WORK/before.prom" tripline_packets_total) == 0 )) ||
  fail "packets counted before any traffic"

send_udp "$SERVER4" "$UDP_PORT" "$FLOWS" "$PER_FLOW" m4
sent=$(( FLOWS * PER_FLOW ))
got=$(count_received "$TL_WORK/udp.out" m4 "$sent")
(( got == sent )) || fail "UDP through the queue: $got of $sent datagrams arrived"

scrape "$TL_WORK/after.prom"
A=$TL_WORK/after.prom
packets=$(metric_sum "$A" tripline_packets_total)
queued=$(metric_sum "$A" tripline_nfqueue_queued_packets_total)
accepted=$(metric_sum "$A" tripline_verdicts_total 'verdict="accept"')
latency=$(metric_sum "$A" tripline_verdict_latency_seconds_count)
lua=$(metric_sum "$A" tripline_lua_call_duration_seconds_count)
flows=$(metric_sum "$A" tripline_flows_created_total)
waiting=$(metric_sum "$A" tripline_nfqueue_waiting_packets)
dropped=$(metric_sum "$A" tripline_nfqueue_dropped_packets_total)
workers=$(grep -c '^tripline_packets_total{worker=' "$A" || true)
log "scrape: packets $packets, queued $queued, accepted $accepted, latency count $latency," \
    "lua calls $lua, flows $flows, waiting $waiting, dropped $dropped, $workers workers"
(( workers == 2 )) || fail "tripline_packets_total has $workers worker series, expected 2"
(( packets == sent )) || fail "tripline_packets_total is $packets, $sent datagrams were sent"
(( queued == sent )) || fail "the kernel queued $queued packets, $sent were sent"
(( accepted == sent )) || fail "$accepted accept verdicts for $sent packets"
(( latency == sent )) || fail "verdict latency histogram counts $latency packets, expected $sent"
(( flows == FLOWS )) || fail "tripline_flows_created_total is $flows, expected $FLOWS"
(( lua == FLOWS )) || fail "Lua call histogram counts $lua calls, expected one per flow ($FLOWS)"
(( waiting == 0 && dropped == 0 )) || fail "queue depth $waiting, kernel drops $dropped"
[[ $(metric_sum "$A" tripline_dns_cache_entries) != none ]] || fail "no tripline_dns_cache_entries"
[[ $(metric_sum "$A" tripline_flows_active) == "$FLOWS" ]] ||
  fail "tripline_flows_active is $(metric_sum "$A" tripline_flows_active), expected $FLOWS"
grep -q '^tripline_verdict_latency_seconds_bucket{worker="0",le="+Inf"}' "$A" ||
  fail "no +Inf bucket in the verdict latency histogram"

# promtool prints lint problems and still exits 0 for some: both must be clean.
rc=0
out=$(promtool check metrics <"$A" 2>&1) || rc=$?
(( rc == 0 )) && [[ -z $out ]] || fail "promtool check metrics (exit $rc): $out"
log "promtool check metrics: clean"

"$PY" "$ROOT/tests/contrib/grafana_dashboard_check.py" "$ROOT/contrib/grafana/tripline.json" "$A" ||
  fail "the Grafana dashboard queries metrics the daemon does not export"

# A second daemon (other queues) asking for the same port stops before binding
# anything; the first keeps serving.
sed -e 's/^first = 0/first = 4/' "$TL_WORK/metrics.toml" >"$TL_WORK/second.toml"
rc=0
in_ns "$NS_G" timeout 10 "$TRIPLINE" run -c "$TL_WORK/second.toml" >"$TL_WORK/second.log" 2>&1 || rc=$?
(( rc != 0 && rc != 124 )) || fail "a second tripline on the same metrics port did not fail (status $rc)"
grep -q "$METRICS" "$TL_WORK/second.log" || fail "the error does not name the address: $(cat "$TL_WORK/second.log")"
! queue_table | awk '$1 == 4 || $1 == 5 { found = 1 } END { exit !found }' ||
  fail "the second tripline bound its queues although its metrics port was taken"
kill -0 "$TL_DAEMON" 2>/dev/null || fail "the first tripline died"
scrape "$TL_WORK/again.prom"
log "a second daemon on the same port: refused (status $rc), the first still serves"

# A bad address is a configuration error.
printf '[metrics]\nlisten = "localhost:9740"\n' >"$TL_WORK/bad.toml"
rc=0
"$TRIPLINE" check -c "$TL_WORK/bad.toml" >"$TL_WORK/bad.log" 2>&1 || rc=$?
(( rc != 0 )) || fail "tripline check accepted listen = \"localhost:9740\""

stop_tripline "$TL_DAEMON"
log "PASS"
