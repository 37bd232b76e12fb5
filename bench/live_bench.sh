#!/usr/bin/env bash
# Live benchmark against the kernel-queue limit (run as root). Builds its own
# client — gw — server namespaces, queues the gw's forwarded IPv4 traffic with
# an iptables NFQUEUE rule (--queue-bypass), and measures, in one run:
#   - verdicts/s of a minimal accept-all consumer (nfq_accept_all) and of
#     `tripline run` with the default pipeline, under a flood of small (64 B)
#     and large (1400 B) UDP datagrams, and the ratio tripline / accept-all;
#   - new TCP connections/s with no queue, through each consumer, and through
#     the DNS-gated path (tripline with a trusted resolver and egress enforce,
#     the client having resolved the name from a dnsmasq in the server first);
#   - UDP round-trip latency p50/p99 with no queue and through each consumer;
#   - offload (issue #12): short small-packet UDP flows (64-byte datagrams,
#     100 and 1000 per flow, each opened by a 2-datagram handshake the server
#     echoes) from several sender processes, and bulk TCP, each with no queue,
#     a stateful router without queue (conntrack and one ESTABLISHED rule),
#     tripline without offload and tripline with `[offload] enabled = true`
#     (both behind the contrib rules, contrib/iptables/tripline-iptables.sh,
#     whose fast path accepts offloaded connections before the queue rule):
#     packets/s delivered to the server, Gb/s, tripline's CPU seconds per GB
#     forwarded, and which side was the limit (machine CPU, tripline's busiest
#     thread); TCP connects/s through the contrib rules: nfq_accept_all,
#     tripline without and with offload, taken in turn for 5 rounds (medians,
#     and each consumer's CPU per connection); and the offload target's
#     short flows with no queue, a stateful router and with offload, in turn
#     for 3 rounds.
# Every namespace and process it starts is removed on exit. About 370 s, or
# about 35 s with --quick (each phase ~1 s, one round: a smoke test, not a measurement).
#
#   live_bench.sh [--quick] [--build DIR] [--senders N]
#                 [--tripline PATH] [--nfq-accept-all PATH] [--udp-flood PATH]
#                 [--udp-ping PATH] [--tcp-connect PATH] [--tcp-bulk PATH]
# Binaries default to DIR/engine/app/tripline and DIR/bench/<name> (DIR: build/release).
# Exit status: 0 ok, 1 a check failed, 77 skipped (not root, or tools missing).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# usage, field, calc, measure_begin/measure_end (CPU from /proc) and limit_of.
# shellcheck source=bench/live_measure.sh
source "$HERE/live_measure.sh"
QUICK=0
BUILD="$ROOT/build/release"
TRIPLINE="" ACCEPT_ALL="" UDP_FLOOD="" UDP_PING="" TCP_CONNECT="" TCP_BULK=""
SENDERS=2

while (( $# )); do
  case "$1" in
    --quick) QUICK=1 ;;
    --build) BUILD=${2:?}; shift ;;
    --tripline) TRIPLINE=${2:?}; shift ;;
    --nfq-accept-all) ACCEPT_ALL=${2:?}; shift ;;
    --udp-flood) UDP_FLOOD=${2:?}; shift ;;
    --udp-ping) UDP_PING=${2:?}; shift ;;
    --tcp-connect) TCP_CONNECT=${2:?}; shift ;;
    --tcp-bulk) TCP_BULK=${2:?}; shift ;;
    --senders) SENDERS=${2:?}; shift ;;
    -h|--help) usage 0 ;;
    *) echo "live_bench.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
: "${TRIPLINE:=$BUILD/engine/app/tripline}" "${ACCEPT_ALL:=$BUILD/bench/nfq_accept_all}"
: "${UDP_FLOOD:=$BUILD/bench/udp_flood}" "${UDP_PING:=$BUILD/bench/udp_ping}"
: "${TCP_CONNECT:=$BUILD/bench/tcp_connect}" "${TCP_BULK:=$BUILD/bench/tcp_bulk}"
[[ $SENDERS =~ ^[1-9]$ ]] || { echo "live_bench.sh: --senders wants 1..9" >&2; exit 2; }

if (( QUICK )); then
  SECS=1 PINGS=300 MODE=quick CONNECT_ROUNDS=1 OFFLOAD_ROUNDS=1
else
  SECS=5 PINGS=2000 MODE=full CONNECT_ROUNDS=5 OFFLOAD_ROUNDS=3
fi

# Namespaces, cleanup on exit (also on failure), log/fail/skip, in_ns,
# start_bg and the queue-table waits come from the integration tests' helpers.
source "$ROOT/tests/integration/lib.sh"
[[ $(id -u) == 0 ]] || skip "needs root (network namespaces, iptables, NFQUEUE)"
for tool in ip iptables dnsmasq dig ss awk timeout; do
  command -v "$tool" >/dev/null || skip "needs $tool"
done
for bin in "$TRIPLINE" "$ACCEPT_ALL" "$UDP_FLOOD" "$UDP_PING" "$TCP_CONNECT" "$TCP_BULK"; do
  [[ -x $bin ]] || { echo "live_bench.sh: no executable $bin (build it, or pass its path)" >&2; exit 1; }
done

CLIENT=$CLIENT4
SERVER=$SERVER4        # dnsmasq (the trusted resolver), flood sink, echo
NAMED=10.201.2.3       # what bench.test resolves to: the DNS-gated target
UNNAMED=10.201.2.4     # in no answer: egress enforce must block it
FLOOD_PORT=9000 ECHO_PORT=9001 TCP_PORT=9002
FLOWS_PORT=9003        # short UDP flows: handshakes echoed, stream datagrams dropped on arrival
BULK_PORT=9004         # bulk TCP sink
HELLO_SIZE=16          # handshake payload: 44-byte IP packets, told apart from the 64-byte stream
WORK=$TL_WORK


# ---------------------------------------------------------------- topology
setup() {
  setup_topology
  ip -n "$NS_S" addr add "$NAMED/24" dev s0
  ip -n "$NS_S" addr add "$UNNAMED/24" dev s0
  # Many short connections from one client: the whole port range.
  in_ns "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
  # The flood's sink: dropped on arrival in the server (no socket, no ICMP back).
  in_ns "$NS_S" iptables -w -t raw -A PREROUTING -p udp --dport "$FLOOD_PORT" -j DROP
  # Short flows' sink: the stream is dropped on arrival (this rule's counter is what was
  # delivered); the handshake (IP length 20 + 8 + HELLO_SIZE) reaches the echo below.
  in_ns "$NS_S" iptables -w -t raw -A PREROUTING -p udp --dport "$FLOWS_PORT" \
    -m length ! --length $(( 28 + HELLO_SIZE )) -j DROP

  start_bg "$NS_S" "$WORK/echo.log" "$UDP_PING" --echo "$ECHO_PORT"
  start_bg "$NS_S" "$WORK/listen.log" "$TCP_CONNECT" --listen "$TCP_PORT"
  start_bg "$NS_S" "$WORK/flows-echo.log" "$UDP_PING" --echo "$FLOWS_PORT"
  start_bg "$NS_S" "$WORK/bulk.log" "$TCP_BULK" --sink "$BULK_PORT"
  start_bg "$NS_S" "$WORK/dnsmasq.log" dnsmasq --keep-in-foreground --conf-file=/dev/null \
    --no-resolv --no-hosts --bind-interfaces --listen-address="$SERVER" --port=53 \
    --address=/bench.test/"$NAMED" --local-ttl=3600 --pid-file="$WORK/dnsmasq.pid" --user=root
  local i
  for i in $(seq 50); do
    if in_ns "$NS_S" ss -lnt | grep -q ":$TCP_PORT " &&
       in_ns "$NS_S" ss -lnt | grep -q ":$BULK_PORT " &&
       in_ns "$NS_S" ss -lnu | grep -q ":$FLOWS_PORT " &&
       in_ns "$NS_S" ss -lnu | grep -q "$SERVER:53 " &&
       in_ns "$NS_S" ss -lnu | grep -q ":$ECHO_PORT "; then
      return 0
    fi
    sleep 0.1
  done
  fail "server programs did not start"
}

queue_rule() {  # add|del
  local op=-A
  [[ $1 == del ]] && op=-D
  in_ns "$NS_G" iptables -w "$op" FORWARD -j NFQUEUE --queue-num 0 --queue-bypass
}

# ---------------------------------------------------------------- consumers
# Both print "name value" counter lines on SIGUSR1 (tripline on stderr,
# nfq_accept_all on stdout; both go to the consumer's log).
CONSUMER_PID="" CONSUMER_LOG=""

start_consumer() {  # accept-all | tripline CONFIG
  CONSUMER_LOG="$WORK/consumer-$1-$(basename "${2:-x}" .toml).log"
  if [[ $1 == accept-all ]]; then
    start_bg "$NS_G" "$CONSUMER_LOG" "$ACCEPT_ALL" --queue 0
  else
    start_bg "$NS_G" "$CONSUMER_LOG" "$TRIPLINE" run -c "$2"
  fi
  CONSUMER_PID=$BG_PID
  wait_queues_bound 1 || fail "$1 did not bind queue 0"
}

stop_consumer() {
  local i rc=0
  kill -TERM "$CONSUMER_PID"
  for i in $(seq 100); do kill -0 "$CONSUMER_PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$CONSUMER_PID" 2>/dev/null && fail "consumer did not exit within 5 s of SIGTERM"
  wait "$CONSUMER_PID" || rc=$?
  (( rc == 0 )) || fail "consumer exited with status $rc"
  wait_queues_unbound || fail "queue 0 still bound after the consumer exited"
}

# The consumer's counter $1 (default packets), asked for with SIGUSR1.
counter() {
  local name=${1:-packets} n0 n i
  n0=$(grep -c '^packets ' "$CONSUMER_LOG" || true)
  kill -USR1 "$CONSUMER_PID"
  for i in $(seq 100); do
    n=$(grep -c '^packets ' "$CONSUMER_LOG" || true)
    (( n > n0 )) && break
    sleep 0.02
  done
  (( n > n0 )) || fail "the consumer did not report its counters on SIGUSR1"
  sleep 0.05  # the whole report, not only its first line
  awk -v k="$name" '$1 == k {v = $2} END {print v + 0}' "$CONSUMER_LOG"
}

# ---------------------------------------------------------------- phases
# $1 / $2 to 3 places ("-" when $2 is 0 or missing).
ratio() { if [[ ${2:-0} != 0 ]]; then calc "$1 / $2" %.3f; else echo "-"; fi; }
# The values R[$1.1] .. R[$1.$2], one per line (the rounds of a figure taken in turn).
rounds() { local i; for i in $(seq "$2"); do echo "${R[$1.$i]}"; done; }
# The contrib rules (fast path, queue rule, save rule) on the gw: up|down.
contrib_rules() {
  in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" "$1" 0 1 ||
    fail "contrib/iptables/tripline-iptables.sh $1 failed"
}
# The stateful router's one rule (conntrack accepts established traffic): add|del.
stateful_rule() {
  local op=-A
  [[ $1 == del ]] && op=-D
  in_ns "$NS_G" iptables -w "$op" FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
}
# Flood of $1-byte UDP payloads for SECS seconds; sets VPS (verdicts/s: packets
# the consumer judged during the flood, per second of flood) and SENT_PPS.
flood() {
  local size=$1 before after out secs
  before=$(counter)
  out=$(in_ns "$NS_C" timeout $(( SECS + 10 )) "$UDP_FLOOD" --dest "$SERVER" --port "$FLOOD_PORT" \
        --size "$size" --seconds "$SECS" --flows 16) || fail "udp_flood failed"
  sleep 0.3  # the queue (at most 4096 packets) drains
  after=$(counter)
  secs=$(field "$out" seconds)
  VPS=$(calc "($after - $before) / $secs")
  SENT_PPS=$(field "$out" pps)
  (( after > before )) || fail "the consumer judged no packet of the $size-byte flood"
}

# New TCP connections for SECS seconds to $1; sets CPS (connects/s) and FAILED.
connects() {
  local out
  out=$(in_ns "$NS_C" timeout $(( SECS + 10 )) "$TCP_CONNECT" --dest "$1" --port "$TCP_PORT" \
        --seconds "$SECS" --threads 4 --timeout-ms 1000) || fail "tcp_connect failed"
  CPS=$(field "$out" connects_per_s)
  FAILED=$(field "$out" failed)
  CONNECTED=$(field "$out" connected)
  (( CONNECTED > 0 )) || fail "no TCP connection to $1 succeeded"
}

# UDP ping-pong through the gw; sets P50 and P99 (microseconds) and LOST.
pings() {
  local out
  out=$(in_ns "$NS_C" timeout 30 "$UDP_PING" --dest "$SERVER" --port "$ECHO_PORT" \
        --count "$PINGS" --interval-us 1000 --timeout-ms 200) || fail "udp_ping failed"
  P50=$(field "$out" rtt_p50_us)
  P99=$(field "$out" rtt_p99_us)
  LOST=$(field "$out" lost)
  (( LOST < PINGS )) || fail "every ping was lost"
}

# A consumer's whole set: small and large floods, connects, latency.
measure_consumer() {  # label
  local k=$1
  flood 64;   R["$k.vps64"]=$VPS;   R["$k.sent64"]=$SENT_PPS
  log "$k: 64-byte UDP: ${VPS} verdicts/s (offered ${SENT_PPS} packets/s)"
  flood 1400; R["$k.vps1400"]=$VPS; R["$k.sent1400"]=$SENT_PPS
  log "$k: 1400-byte UDP: ${VPS} verdicts/s (offered ${SENT_PPS} packets/s)"
  connects "$SERVER"; R["$k.cps"]=$CPS; R["$k.cfail"]=$FAILED
  log "$k: TCP: ${CPS} connects/s ($FAILED failed)"
  pings; R["$k.p50"]=$P50; R["$k.p99"]=$P99; R["$k.lost"]=$LOST
  log "$k: RTT p50 ${P50} us, p99 ${P99} us ($LOST lost)"
}

declare -A R
START=$(date +%s)
log "live benchmark ($MODE: ${SECS} s per phase, $PINGS pings), work dir $WORK"
setup
log "namespaces $NS_C — $NS_G — $NS_S ready"

# ------------------------------------------------ no queue: the reference path
connects "$SERVER"; R[none.cps]=$CPS; R[none.cfail]=$FAILED
log "no queue: TCP: ${CPS} connects/s ($FAILED failed)"
pings; R[none.p50]=$P50; R[none.p99]=$P99; R[none.lost]=$LOST
log "no queue: RTT p50 ${P50} us, p99 ${P99} us ($LOST lost)"

queue_rule add

# ------------------------------------------------ accept-all consumer
start_consumer accept-all
measure_consumer accept_all
stop_consumer

# ------------------------------------------------ tripline, default pipeline
cat >"$WORK/default.toml" <<TOML
[queue]
first = 0
count = 1
[log]
events = ""   # as measured before the event log was on by default
TOML
start_consumer tripline "$WORK/default.toml"
measure_consumer tripline
stop_consumer

# ------------------------------------------------ tripline, DNS-gated egress
cat >"$WORK/egress.toml" <<TOML
[queue]
first = 0
count = 1
[network]
inside = ["${CLIENT%.*}.0/24"]
[dns]
resolvers = ["$SERVER"]
[egress]
mode = "enforce"
[log]
events = ""
TOML
start_consumer tripline "$WORK/egress.toml"
answer=$(in_ns "$NS_C" dig +short +tries=1 +time=2 @"$SERVER" bench.test A) ||
  fail "the client could not resolve bench.test"
[[ $answer == "$NAMED" ]] || fail "bench.test resolved to '$answer', expected $NAMED"
(( $(counter dns_addresses_opened) >= 1 )) || fail "tripline opened no address from the DNS answer"
connects "$NAMED"; R[gated.cps]=$CPS; R[gated.cfail]=$FAILED
log "tripline DNS-gated: TCP to the resolved $NAMED: ${CPS} connects/s ($FAILED failed)"
# The gate must be closed for an address no answer gave.
out=$(in_ns "$NS_C" timeout 10 "$TCP_CONNECT" --dest "$UNNAMED" --port "$TCP_PORT" --count 1 \
      --threads 1 --timeout-ms 300) || fail "tcp_connect failed"
(( $(field "$out" connected) == 0 )) || fail "egress enforce let a connection to unresolved $UNNAMED through"
R[gated.allowed]=$(counter egress_allowed)
R[gated.blocked]=$(counter egress_blocked)
(( ${R[gated.blocked]} >= 1 )) || fail "tripline counted no blocked flow"
log "tripline DNS-gated: unresolved $UNNAMED blocked (egress_allowed ${R[gated.allowed]}, egress_blocked ${R[gated.blocked]})"
stop_consumer
queue_rule del

# ------------------------------------------------ offload (issue #12)
# Bytes the gw sent out of both its links (forwarded both ways, and little else).
gw_bytes() {
  in_ns "$NS_G" cat /sys/class/net/gw-s/statistics/tx_bytes /sys/class/net/gw-c/statistics/tx_bytes |
    awk '{s += $1} END {printf "%.0f\n", s}'
}
# Packets the server's short-flow sink rule dropped on arrival: the stream datagrams delivered.
delivered() {
  in_ns "$NS_S" iptables -w -t raw -L PREROUTING -v -x -n |
    awk -v p="dpt:$FLOWS_PORT" '$0 ~ p && $3 == "DROP" {print $1; exit}'
}

# CPU ticks of the kernel's softirq threads: forwarding deferred there is charged to them.
ksoftirqd_ticks() {
  local p t=0
  for p in $(pgrep -x 'ksoftirqd/[0-9]+'); do t=$(( t + $(proc_ticks "$p" 2>/dev/null || echo 0) )); done
  echo "$t"
}
# measure_begin/measure_end around a phase, for the consumer if one runs; KSI_CPU_S:
# ksoftirqd's CPU seconds over the phase.
phase_begin() { M_BYTES0=$(gw_bytes); M_KSI0=$(ksoftirqd_ticks); measure_begin "$CONSUMER_PID"; }
phase_end() {
  measure_end
  FWD_BYTES=$(( $(gw_bytes) - M_BYTES0 ))
  KSI_CPU_S=$(calc "($(ksoftirqd_ticks) - $M_KSI0) / $CLK_TCK" %.2f)
}
mode_limit() { limit_of "$([[ -z $CONSUMER_PID ]] || echo tripline)"; }

# SENDERS udp_flood processes of short flows ($1 datagrams each), SECS seconds; sets
# FLOW_PPS (delivered to the server per second), FLOW_OFFERED (sent per second),
# FLOWS (started), FLOWS_ANSWERED (handshake echoed in time), and the measure_end figures.
short_flows() {
  local per_flow=$1 d0 d1 i out secs=0 sent=0 flows=0 answered=0 cpu=0 pids=()
  d0=$(delivered)
  phase_begin
  for i in $(seq "$SENDERS"); do
    in_ns "$NS_C" timeout $(( SECS + 10 )) "$UDP_FLOOD" --dest "$SERVER" --port "$FLOWS_PORT" \
      --size 64 --seconds "$SECS" --flows 32 --packets-per-flow "$per_flow" --handshake 2 \
      --handshake-size "$HELLO_SIZE" >"$WORK/flows-$i.out" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "udp_flood (short flows) failed"; done
  sleep 0.3  # the queue drains
  phase_end
  d1=$(delivered)
  for i in $(seq "$SENDERS"); do
    out=$(cat "$WORK/flows-$i.out")
    secs=$(calc "$secs + $(field "$out" seconds)" %.3f)
    sent=$(( sent + $(field "$out" sent) ))
    flows=$(( flows + $(field "$out" flows) ))
    answered=$(( answered + $(field "$out" flows_answered) ))
    cpu=$(calc "$cpu + $(field "$out" cpu_s)" %.3f)
  done
  secs=$(calc "$secs / $SENDERS" %.3f)
  FLOW_PPS=$(calc "($d1 - $d0) / $secs")
  FLOW_OFFERED=$(calc "$sent / $secs")
  FLOWS=$flows FLOWS_ANSWERED=$answered
  # CPU per delivered datagram: senders (with the forwarding the kernel did in their
  # context), ksoftirqd and tripline. Other programs on a shared machine are not in it.
  FLOW_NS=$(calc "($cpu + $KSI_CPU_S + $PID_CPU_S) * 1e9 / ($d1 - $d0)" %.0f)
  FLOW_SEND_CPU=$cpu
  (( d1 > d0 )) || fail "no datagram of the short flows reached the server"
}

# Bulk TCP for SECS seconds, 2 streams; sets GBPS and the measure_end figures.
bulk() {
  local out
  phase_begin
  out=$(in_ns "$NS_C" timeout $(( SECS + 10 )) "$TCP_BULK" --dest "$SERVER" --port "$BULK_PORT" \
        --seconds "$SECS" --streams 2) || fail "tcp_bulk failed"
  phase_end
  GBPS=$(field "$out" gbps)
  (( $(field "$out" streams_failed) == 0 )) || fail "a bulk TCP stream failed: $out"
}

# The whole offload set for one mode (none | stateful | bypass | nooffload | offload; the first three
# without a consumer).
measure_offload_mode() {
  local k=$1 n before=0 after=0
  for n in 100 1000; do
    [[ -z $CONSUMER_PID ]] || before=$(counter)
    short_flows "$n"
    [[ -z $CONSUMER_PID ]] || after=$(counter)
    R["$k.f$n.pps"]=$FLOW_PPS; R["$k.f$n.offered"]=$FLOW_OFFERED
    R["$k.f$n.flows"]=$FLOWS; R["$k.f$n.answered"]=$FLOWS_ANSWERED
    R["$k.f$n.judged"]=$(( after - before ))
    R["$k.f$n.cpu"]=$PID_CPU_S; R["$k.f$n.bytes"]=$FWD_BYTES; R["$k.f$n.limit"]=$(mode_limit "$k")
    R["$k.f$n.ns"]=$FLOW_NS; R["$k.f$n.send_cpu"]=$FLOW_SEND_CPU; R["$k.f$n.ksi"]=$KSI_CPU_S
    log "$k: short UDP flows of $n: ${FLOW_PPS} packets/s delivered (offered ${FLOW_OFFERED}; $FLOWS flows, $FLOWS_ANSWERED answered); judged ${R[$k.f$n.judged]}; CPU s: senders $FLOW_SEND_CPU, ksoftirqd $KSI_CPU_S, tripline $PID_CPU_S = $FLOW_NS ns per datagram; limit: ${R[$k.f$n.limit]}"
  done
  bulk
  R["$k.gbps"]=$GBPS; R["$k.bulk.cpu"]=$PID_CPU_S; R["$k.bulk.bytes"]=$FWD_BYTES
  R["$k.bulk.limit"]=$(mode_limit "$k")
  log "$k: bulk TCP: ${GBPS} Gb/s; tripline ${PID_CPU_S} CPU s for $FWD_BYTES bytes; limit: ${R[$k.bulk.limit]}"
}

# Short UDP flows leave many conntrack entries once rules need conntrack: let them go soon.
in_ns "$NS_G" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2 \
  net.netfilter.nf_conntrack_udp_timeout_stream=5 2>/dev/null || true
CONSUMER_PID=""
measure_offload_mode none
# A stateful router without tripline: conntrack on (as for NAT), established traffic
# accepted by one rule. What the kernel charges for conntrack alone, which offload needs too.
stateful_rule add
measure_offload_mode stateful
stateful_rule del
contrib_rules up
# The rules with nobody bound (--queue-bypass accepts): conntrack, the connmark matches and
# the queue rule's bypass, the kernel's part of the offload path.
measure_offload_mode bypass
for mode in nooffload offload; do
  cat >"$WORK/$mode.toml" <<TOML
[queue]
first = 0
count = 1
[log]
events = ""
[offload]
enabled = $([[ $mode == offload ]] && echo true || echo false)
TOML
  start_consumer tripline "$WORK/$mode.toml"
  measure_offload_mode "$mode"
  R["$mode.requested"]=$(counter offload_requested)
  R["$mode.late"]=$(counter offload_late_packets)
  R["$mode.with_verdict"]=$(counter offload_with_verdict)
  stop_consumer
done
# TCP connects/s behind the same rules, what the connects target compares: the minimal
# consumer, tripline without and with offload, in turn for CONNECT_ROUNDS rounds (the
# machine's load drifts within a run by more than these differ); medians. Also each
# consumer's CPU per connection (with the forwarding the kernel does in its verdict calls).
for r in $(seq "$CONNECT_ROUNDS"); do
  for k in ct_accept_all nooffload offload; do
    if [[ $k == ct_accept_all ]]; then start_consumer accept-all; else start_consumer tripline "$WORK/$k.toml"; fi
    measure_begin "$CONSUMER_PID"
    connects "$SERVER"
    measure_end
    stop_consumer
    R["$k.cps.$r"]=$CPS; R["$k.cfail"]=$(( ${R[$k.cfail]:-0} + FAILED ))
    R["$k.cus.$r"]=$(calc "$PID_CPU_S * 1e6 / $CONNECTED" %.1f)
    log "round $r, $k behind the contrib rules: TCP: ${CPS} connects/s ($FAILED failed), ${R[$k.cus.$r]} us CPU per connection"
  done
done
for k in ct_accept_all nooffload offload; do
  R["$k.cps"]=$(rounds "$k.cps" "$CONNECT_ROUNDS" | median)
  R["$k.cus"]=$(rounds "$k.cus" "$CONNECT_ROUNDS" | median)
  R["$k.rounds"]=$(rounds "$k.cps" "$CONNECT_ROUNDS" | paste -sd' ')
done
# The offload target's figure: short flows with no queue (no rule at all), through a stateful
# router and through tripline with offload, in turn for OFFLOAD_ROUNDS rounds, the order
# rotated every round (the rows above are minutes apart: the machine's drift and what
# earlier phases left in conntrack move them by more than offload costs); the median of the
# per-round ratios.
turn_offload() {
  start_consumer tripline "$WORK/offload.toml"
  for n in 100 1000; do short_flows "$n"; R["turn.offload.f$n.$r"]=$FLOW_PPS; done
  stop_consumer
  CONSUMER_PID=""
}
turn_none() {
  contrib_rules down
  for n in 100 1000; do short_flows "$n"; R["turn.none.f$n.$r"]=$FLOW_PPS; done
  contrib_rules up
}
turn_stateful() {  # conntrack's own floor, as the stateful router above
  contrib_rules down
  stateful_rule add
  for n in 100 1000; do short_flows "$n"; R["turn.stateful.f$n.$r"]=$FLOW_PPS; done
  stateful_rule del
  contrib_rules up
}
CONSUMER_PID=""
for r in $(seq "$OFFLOAD_ROUNDS"); do
  case $(( r % 3 )) in
    1) turn_none; turn_stateful; turn_offload ;;
    2) turn_offload; turn_none; turn_stateful ;;
    0) turn_stateful; turn_offload; turn_none ;;
  esac
  for n in 100 1000; do
    R["turn.ratio.f$n.$r"]=$(ratio "${R[turn.offload.f$n.$r]}" "${R[turn.none.f$n.$r]}")
    R["turn.floor.f$n.$r"]=$(ratio "${R[turn.stateful.f$n.$r]}" "${R[turn.none.f$n.$r]}")
    log "round $r, short UDP flows of $n: no queue ${R[turn.none.f$n.$r]}, stateful router ${R[turn.stateful.f$n.$r]}, offload ${R[turn.offload.f$n.$r]} packets/s: offload/no queue ${R[turn.ratio.f$n.$r]}, stateful router/no queue ${R[turn.floor.f$n.$r]}"
  done
done
for n in 100 1000; do
  for q in ratio floor; do
    R["turn.$q.f$n"]=$(rounds "turn.$q.f$n" "$OFFLOAD_ROUNDS" | median)
    R["turn.$q.rounds.f$n"]=$(rounds "turn.$q.f$n" "$OFFLOAD_ROUNDS" | paste -sd' ')
  done
done
contrib_rules down
(( ${R[offload.requested]} > 0 )) || fail "offload on, but tripline requested no offload"

# ---------------------------------------------------------------- summary
saturated() {  # a note when the consumer kept up with the sender (not at its limit)
  if awk -v v="$1" -v s="$2" 'BEGIN { exit !(v >= 0.95 * s) }'; then echo " (kept up with the sender: not at its limit)"; fi
}
elapsed=$(( $(date +%s) - START ))
cat <<EOF

== tripline live benchmark ($MODE, ${SECS} s per phase), $(date -u +%Y-%m-%dT%H:%M:%SZ)
== $(uname -r), $(nproc) CPUs; one queue (0), iptables FORWARD -j NFQUEUE --queue-bypass; ${elapsed} s

verdicts/s, UDP flood through the queue (one worker):
  64-byte payload    nfq_accept_all ${R[accept_all.vps64]}$(saturated "${R[accept_all.vps64]}" "${R[accept_all.sent64]}")
                     tripline       ${R[tripline.vps64]}$(saturated "${R[tripline.vps64]}" "${R[tripline.sent64]}")
                     ratio tripline/accept-all  $(ratio "${R[tripline.vps64]}" "${R[accept_all.vps64]}")
  1400-byte payload  nfq_accept_all ${R[accept_all.vps1400]}$(saturated "${R[accept_all.vps1400]}" "${R[accept_all.sent1400]}")
                     tripline       ${R[tripline.vps1400]}$(saturated "${R[tripline.vps1400]}" "${R[tripline.sent1400]}")
                     ratio tripline/accept-all  $(ratio "${R[tripline.vps1400]}" "${R[accept_all.vps1400]}")

new TCP connections/s (4 client threads, connect + reset):
  no queue                          ${R[none.cps]} (${R[none.cfail]} failed)
  nfq_accept_all                    ${R[accept_all.cps]} (${R[accept_all.cfail]} failed)
  tripline, default pipeline        ${R[tripline.cps]} (${R[tripline.cfail]} failed)
  tripline, DNS-gated (enforce)     ${R[gated.cps]} (${R[gated.cfail]} failed)
  ratio tripline default/accept-all $(ratio "${R[tripline.cps]}" "${R[accept_all.cps]}")
  ratio DNS-gated/default pipeline  $(ratio "${R[gated.cps]}" "${R[tripline.cps]}")

UDP round trip, 64 bytes, $PINGS pings 1 ms apart (both directions queued), microseconds:
  no queue          p50 ${R[none.p50]}  p99 ${R[none.p99]}  (${R[none.lost]} lost)
  nfq_accept_all    p50 ${R[accept_all.p50]}  p99 ${R[accept_all.p99]}  added p50 $(calc "${R[accept_all.p50]} - ${R[none.p50]}" %.1f)  p99 $(calc "${R[accept_all.p99]} - ${R[none.p99]}" %.1f)
  tripline          p50 ${R[tripline.p50]}  p99 ${R[tripline.p99]}  added p50 $(calc "${R[tripline.p50]} - ${R[none.p50]}" %.1f)  p99 $(calc "${R[tripline.p99]} - ${R[none.p99]}" %.1f)
EOF
per_gb() { if [[ ${2:-0} != 0 ]]; then calc "$1 / ($2 / 1e9)" %.2f; else echo "-"; fi; }
target() {  # value threshold
  if awk -v v="$1" -v t="$2" 'BEGIN { exit !(v >= t) }'; then echo "met (>= $2)"; else echo "MISSED (< $2)"; fi
}
cat <<EOF

offload (issue #12): contrib rules (tripline-iptables.sh: fast path and save rule before the queue rule) for
both tripline rows; no queue = no rule at all (no conntrack); stateful router = conntrack and one
"ctstate ESTABLISHED,RELATED -j ACCEPT" rule, no queue. $SENDERS sender processes x 32 flows at a time,
64-byte datagrams; each flow opens with 2 handshake datagrams the server echoes, and streams once both echoes are back.
EOF
for n in 100 1000; do
  cat <<EOF
  short UDP flows of $n datagrams, packets/s delivered to the server (offered by the senders):
    no queue                ${R[none.f$n.pps]} (${R[none.f$n.offered]})   limit: ${R[none.f$n.limit]}
    stateful router, no queue ${R[stateful.f$n.pps]} (${R[stateful.f$n.offered]})   limit: ${R[stateful.f$n.limit]}
    contrib rules, no consumer ${R[bypass.f$n.pps]} (${R[bypass.f$n.offered]})   limit: ${R[bypass.f$n.limit]}
    tripline, no offload    ${R[nooffload.f$n.pps]} (${R[nooffload.f$n.offered]})   judged ${R[nooffload.f$n.judged]}; $(per_gb "${R[nooffload.f$n.cpu]}" "${R[nooffload.f$n.bytes]}") CPU s/GB   limit: ${R[nooffload.f$n.limit]}
    tripline, offload       ${R[offload.f$n.pps]} (${R[offload.f$n.offered]})   judged ${R[offload.f$n.judged]}; $(per_gb "${R[offload.f$n.cpu]}" "${R[offload.f$n.bytes]}") CPU s/GB   limit: ${R[offload.f$n.limit]}
    ratio offload/no queue  $(ratio "${R[offload.f$n.pps]}" "${R[none.f$n.pps]}") (these rows, minutes apart)
    ratio offload/no queue, in turn: median ${R[turn.ratio.f$n]} of $OFFLOAD_ROUNDS rounds (${R[turn.ratio.rounds.f$n]})  target: $(target "${R[turn.ratio.f$n]}" 0.85)
    ratio stateful router/no queue, in the same turns: median ${R[turn.floor.f$n]} (${R[turn.floor.rounds.f$n]}): conntrack's own floor
    ratio offload/stateful router $(ratio "${R[offload.f$n.pps]}" "${R[stateful.f$n.pps]}")  (conntrack's own cost left out)
    ratio no offload/no queue $(ratio "${R[nooffload.f$n.pps]}" "${R[none.f$n.pps]}")
    CPU per delivered datagram (senders incl. the forwarding in their context + ksoftirqd + tripline), ns:
      no queue ${R[none.f$n.ns]}, stateful router ${R[stateful.f$n.ns]}, contrib rules without consumer ${R[bypass.f$n.ns]}, no offload ${R[nooffload.f$n.ns]}, offload ${R[offload.f$n.ns]};
      no queue / offload $(ratio "${R[none.f$n.ns]}" "${R[offload.f$n.ns]}") (the rate ratio on otherwise idle CPUs, if CPU is the limit)
    flows started (handshake answered): no queue ${R[none.f$n.flows]} (${R[none.f$n.answered]}), tripline ${R[nooffload.f$n.flows]} (${R[nooffload.f$n.answered]}), offload ${R[offload.f$n.flows]} (${R[offload.f$n.answered]})
EOF
done
cat <<EOF
  bulk TCP, 2 streams, Gb/s:
    no queue                ${R[none.gbps]}   limit: ${R[none.bulk.limit]}
    stateful router, no queue ${R[stateful.gbps]}   limit: ${R[stateful.bulk.limit]}
    contrib rules, no consumer ${R[bypass.gbps]}   limit: ${R[bypass.bulk.limit]}
    tripline, no offload    ${R[nooffload.gbps]}   $(per_gb "${R[nooffload.bulk.cpu]}" "${R[nooffload.bulk.bytes]}") CPU s/GB   limit: ${R[nooffload.bulk.limit]}
    tripline, offload       ${R[offload.gbps]}   $(per_gb "${R[offload.bulk.cpu]}" "${R[offload.bulk.bytes]}") CPU s/GB   limit: ${R[offload.bulk.limit]}
  new TCP connections/s through the contrib rules (4 threads), median of $CONNECT_ROUNDS rounds taken in turn (each round's figure);
  CPU per connection = the consumer's CPU time (with the kernel's forwarding in its verdict calls) / connections, median:
    nfq_accept_all          ${R[ct_accept_all.cps]} (${R[ct_accept_all.rounds]}; ${R[ct_accept_all.cfail]} failed)   ${R[ct_accept_all.cus]} us CPU per connection
    tripline, no offload    ${R[nooffload.cps]} (${R[nooffload.rounds]}; ${R[nooffload.cfail]} failed)   ${R[nooffload.cus]} us CPU per connection  ratio to nfq_accept_all $(ratio "${R[nooffload.cps]}" "${R[ct_accept_all.cps]}")
    tripline, offload       ${R[offload.cps]} (${R[offload.rounds]}; ${R[offload.cfail]} failed)   ${R[offload.cus]} us CPU per connection  ratio to nfq_accept_all $(ratio "${R[offload.cps]}" "${R[ct_accept_all.cps]}")  target: $(target "$(ratio "${R[offload.cps]}" "${R[ct_accept_all.cps]}")" 0.9)
  offload_requested ${R[offload.requested]} (${R[offload.with_verdict]} with the verdict: saved to the conntrack mark by the contrib save rule), offload_late_packets ${R[offload.late]} (queued after the request, before the mark took effect)
  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
EOF
if (( QUICK )); then echo "(--quick: ~1 s phases check that everything runs; do not quote these figures)"; fi
