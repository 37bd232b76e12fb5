#!/usr/bin/env bash
# tripline next to what users would run instead (issue #12), on the same work, in one run:
#   replay: two generated pcaps (tripline-gen --packets N --seed 1, once with
#     --concurrency 8000 and once with the default 200 sessions at a time), each
#     read by `tripline replay` (default pipeline, no events; and with flow/DNS
#     events to /dev/null), Debian's `ndpiReader -i` (nDPI: flows and their
#     application protocols) and `tshark -r -q -z io,stat,0` (Wireshark's
#     dissectors, counting). Each command runs --runs times, the tools in turn;
#     the median wall time and packets/s, and the median CPU time (user + sys);
#   live (root): new TCP connections/s and connect() latency from the gateway
#     namespace to a server: no queue; Debian's `opensnitchd` (DefaultAction
#     allow, no UI, its own `ct state new` queue rule in mangle OUTPUT, a
#     temporary config and rules folder bind-mounted over /etc/opensnitchd in a
#     private mount namespace); tripline with that same rule; tripline with the
#     full queue (every packet of those connections, OUTPUT and INPUT). With the
#     consumer's CPU time and which side limited each figure.
# Everything lives in namespaces and a temporary folder, removed on exit; the
# host's firewall, /etc and services are not touched.
#
#   peers.sh [--quick] [--build DIR] [--packets N] [--runs N] [--seconds S]
#            [--replay-only | --live-only] [--install]
# --quick: 20,000 packets, 1 run, 1 s phases (a smoke test, not a measurement).
# --install: apt-get install the missing peers (libndpi-bin, tshark, opensnitch)
# first; opensnitch's service is left disabled and stopped. Without it a
# missing peer makes the script say what is missing and exit 77 (skipped).
# Exit status: 0 ok, 1 a check failed, 2 bad arguments, 77 skipped.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# usage, field, calc, median, measure_begin/measure_end and limit_of.
# shellcheck source=bench/live_measure.sh
source "$HERE/live_measure.sh"
BUILD="$ROOT/build/release"
PACKETS=100000 RUNS=3 SECS=3 QUICK=0 DO_REPLAY=1 DO_LIVE=1 INSTALL=0

while (( $# )); do
  case "$1" in
    --quick) QUICK=1 PACKETS=20000 RUNS=1 SECS=1 ;;
    --build) BUILD=${2:?}; shift ;;
    --packets) PACKETS=${2:?}; shift ;;
    --runs) RUNS=${2:?}; shift ;;
    --seconds) SECS=${2:?}; shift ;;
    --replay-only) DO_LIVE=0 ;;
    --live-only) DO_REPLAY=0 ;;
    --install) INSTALL=1 ;;
    -h|--help) usage 0 ;;
    *) echo "peers.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
want_int() {  # option value min max
  if ! [[ $2 =~ ^[0-9]+$ ]] || (( $2 < $3 || $2 > $4 )); then
    echo "peers.sh: $1 wants $3..$4" >&2
    exit 2
  fi
}
want_int --packets "$PACKETS" 1000 10000000
want_int --runs "$RUNS" 1 20
want_int --seconds "$SECS" 1 60
TRIPLINE=$BUILD/engine/app/tripline
GEN=$BUILD/bench/tripline-gen
TCP_CONNECT=$BUILD/bench/tcp_connect

# Namespaces, the temporary folder (TL_WORK), cleanup on exit, log/fail/skip,
# in_ns, start_bg and the queue-table waits: the integration tests' helpers.
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
WORK=$TL_WORK

for bin in "$TRIPLINE" "$GEN" "$TCP_CONNECT"; do
  [[ -x $bin ]] || { echo "peers.sh: no executable $bin (build the release preset, or pass --build)" >&2; exit 1; }
done

# ------------------------------------------------------------ peers present?
# Installing opensnitch must not start or enable a daemon on the host: a
# policy-rc.d that refuses every start while apt runs (if none is there), then
# the unit disabled and stopped.
install_peers() {
  local pkgs=("$@") made_policy=0
  [[ $(id -u) == 0 ]] || skip "--install needs root"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  log "installing ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2 || {
    (( made_policy == 0 )) || rm -f /usr/sbin/policy-rc.d
    fail "apt-get install ${pkgs[*]} failed"
  }
  (( made_policy == 0 )) || rm -f /usr/sbin/policy-rc.d
  if [[ " ${pkgs[*]} " == *" opensnitch "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now opensnitch >/dev/null 2>&1 || true
  fi
}
missing=()
if (( DO_REPLAY )); then
  command -v ndpiReader >/dev/null || missing+=(libndpi-bin)
  command -v tshark >/dev/null || missing+=(tshark)
fi
(( DO_LIVE )) && ! command -v opensnitchd >/dev/null && missing+=(opensnitch)
if (( ${#missing[@]} )); then
  if (( INSTALL )); then
    install_peers "${missing[@]}"
  else
    skip "missing peers: apt-get install ${missing[*]} (or run with --install)"
  fi
fi
if (( DO_LIVE )); then
  [[ $(id -u) == 0 ]] || skip "the live part needs root (network namespaces, NFQUEUE); --replay-only runs without"
  for tool in ip iptables ss unshare mount; do command -v "$tool" >/dev/null || skip "needs $tool"; done
fi

declare -A R
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ replay
# time_cmd OUT CMD...: runs CMD (stdout and stderr to OUT), sets T_WALL and T_CPU (seconds).
time_cmd() {
  local out=$1 t0 t1 c0 c1
  shift
  c0=$(awk '{print $16 + $17}' /proc/$$/stat)  # children this shell waited for
  t0=$(date +%s.%N)
  timeout 600 "$@" >"$out" 2>&1 || fail "$* failed (see $out)"
  t1=$(date +%s.%N)
  c1=$(awk '{print $16 + $17}' /proc/$$/stat)
  T_WALL=$(calc "$t1 - $t0" %.3f)
  T_CPU=$(calc "($c1 - $c0) / $CLK_TCK" %.2f)
}

# How many packets each tool says it read (all of the file, or the comparison is void).
read_count() {  # tool output
  case $1 in
    tripline*) sed -n 's/^replay .*: \([0-9][0-9]*\) frames in .*/\1/p' "$2" | head -n1 ;;
    ndpiReader) sed -n 's/.* of \([0-9][0-9]*\) packets total.*/\1/p' "$2" | head -n1 ;;
    tshark) awk -F'|' '/<>/ {gsub(/ /, "", $3); print $3; exit}' "$2" ;;
  esac
}

replay_file() {  # label pcap
  local label=$1 pcap=$2 run tool out n
  local tools=(tripline tripline_events ndpiReader tshark)
  for run in $(seq "$RUNS"); do
    for tool in "${tools[@]}"; do
      out="$WORK/$label-$tool-$run.out"
      case $tool in
        tripline) time_cmd "$out" "$TRIPLINE" replay "$pcap" ;;
        tripline_events) time_cmd "$out" "$TRIPLINE" replay "$pcap" --events /dev/null ;;
        ndpiReader) time_cmd "$out" ndpiReader -i "$pcap" ;;
        tshark) time_cmd "$out" tshark -r "$pcap" -q -z io,stat,0 ;;
      esac
      n=$(read_count "$tool" "$out")
      [[ $n == "$PACKETS" ]] || fail "$tool read ${n:-no} packets of $PACKETS in $pcap (see $out)"
      echo "$T_WALL" >>"$WORK/$label-$tool.wall"
      echo "$T_CPU" >>"$WORK/$label-$tool.cpu"
    done
  done
  for tool in "${tools[@]}"; do
    R["$label.$tool.wall"]=$(median <"$WORK/$label-$tool.wall")
    R["$label.$tool.cpu"]=$(median <"$WORK/$label-$tool.cpu")
    R["$label.$tool.range"]=$(sort -g "$WORK/$label-$tool.wall" | awk 'NR == 1 {a = $1} {b = $1} END {print a "–" b}')
    R["$label.$tool.pps"]=$(calc "$PACKETS / ${R[$label.$tool.wall]}")
    log "$label: $tool ${R[$label.$tool.wall]} s (${R[$label.$tool.range]}), ${R[$label.$tool.pps]} packets/s, CPU ${R[$label.$tool.cpu]} s"
  done
}

if (( DO_REPLAY )); then
  log "replay: generating two $PACKETS-packet pcaps in $WORK"
  "$GEN" --packets "$PACKETS" --seed 1 --concurrency 8000 --out "$WORK/c8000.pcap" -q ||
    fail "tripline-gen --concurrency 8000 failed"
  "$GEN" --packets "$PACKETS" --seed 1 --out "$WORK/default.pcap" -q || fail "tripline-gen failed"
  for f in c8000 default; do
    cat "$WORK/$f.pcap" >/dev/null  # page cache warm for everyone
    replay_file "$f" "$WORK/$f.pcap"
  done
fi

# ------------------------------------------------------------ live
TCP_PORT=9002
OS_RULE=(-m conntrack --ctstate "NEW,RELATED" -j NFQUEUE --queue-num 0 --queue-bypass)  # mangle OUTPUT
CONSUMER_PID=""

# Connections from the gw namespace (where a host firewall like opensnitch runs) to the
# server: loaded (4 threads) for connects/s, then paced (one thread, 1 per ms) for latency.
measure_connects() {  # key consumer-name
  local k=$1 who=$2 out seq0 seq1
  seq0=$(queue_table | awk '$1 == 0 {print $8}')
  measure_begin "$CONSUMER_PID"
  out=$(in_ns "$NS_G" timeout $(( SECS + 10 )) "$TCP_CONNECT" --dest "$SERVER4" --port "$TCP_PORT" \
        --seconds "$SECS" --threads 4 --timeout-ms 1000) || fail "tcp_connect failed"
  measure_end
  seq1=$(queue_table | awk '$1 == 0 {print $8}')
  (( $(field "$out" connected) > 0 )) || fail "$k: no connection succeeded"
  R["$k.cps"]=$(field "$out" connects_per_s); R["$k.failed"]=$(field "$out" failed)
  R["$k.load_p50"]=$(field "$out" connect_p50_us); R["$k.load_p99"]=$(field "$out" connect_p99_us)
  R["$k.limit"]=$(limit_of "$who")
  R["$k.cpu_per_k"]="-"
  [[ -z $who ]] || R["$k.cpu_per_k"]=$(calc "$PID_CPU_S / $(field "$out" connected) * 1000" %.3f)
  R["$k.queued"]=$(( ${seq1:-0} - ${seq0:-0} ))
  out=$(in_ns "$NS_G" timeout $(( SECS + 10 )) "$TCP_CONNECT" --dest "$SERVER4" --port "$TCP_PORT" \
        --seconds "$SECS" --threads 1 --interval-us 1000 --timeout-ms 1000) || fail "tcp_connect failed"
  R["$k.p50"]=$(field "$out" connect_p50_us); R["$k.p90"]=$(field "$out" connect_p90_us)
  R["$k.p99"]=$(field "$out" connect_p99_us)
  R["$k.failed"]=$(( ${R[$k.failed]} + $(field "$out" failed) ))
  log "$k: ${R[$k.cps]} connects/s (p50 ${R[$k.load_p50]} us loaded), paced p50 ${R[$k.p50]} us p99 ${R[$k.p99]} us, ${R[$k.failed]} failed; queued ${R[$k.queued]}; limit: ${R[$k.limit]}"
}

stop_consumer() {
  kill -TERM "$CONSUMER_PID"
  for _ in $(seq 100); do kill -0 "$CONSUMER_PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$CONSUMER_PID" 2>/dev/null && fail "consumer $CONSUMER_PID did not exit within 5 s of SIGTERM"
  wait "$CONSUMER_PID" || true
  CONSUMER_PID=""
  wait_queues_unbound || fail "queues still bound after the consumer exited"
}

start_opensnitch() {
  local d=$WORK/opensnitch
  mkdir -p "$d/etc" "$d/rules"
  # Debian's default-config.json with the paths moved into our folder, no UI socket that
  # exists, and the process lookup through /proc (the ebpf module is another package).
  cat >"$d/etc/default-config.json" <<JSON
{
    "Server": { "Address": "unix://$d/no-ui.sock", "LogFile": "$d/opensnitchd.log" },
    "DefaultAction": "allow",
    "DefaultDuration": "once",
    "InterceptUnknown": false,
    "ProcMonitorMethod": "proc",
    "LogLevel": 2,
    "Firewall": "iptables",
    "Stats": { "MaxEvents": 150, "MaxStats": 25 }
}
JSON
  cp /etc/opensnitchd/system-fw.json "$d/etc/" 2>/dev/null ||
    printf '{ "SystemRules": [] }\n' >"$d/etc/system-fw.json"
  # opensnitchd reads /etc/opensnitchd/ only: our folder is mounted there in a private
  # mount namespace of its own (nothing on the host changes); then exec, same pid.
  # shellcheck disable=SC2016  # $1.. expand in that inner sh
  start_bg "$NS_G" "$WORK/opensnitchd.out" unshare -m --propagation private sh -c \
    'mount --bind "$1" /etc/opensnitchd && exec opensnitchd -rules-path "$2" -ui-socket "unix://$3"' \
    sh "$d/etc" "$d/rules" "$d/no-ui.sock"
  CONSUMER_PID=$BG_PID
  wait_queues_bound 2 || fail "opensnitchd did not bind queues 0 and 1 (see $WORK/opensnitchd.out)"
  for _ in $(seq 100); do
    in_ns "$NS_G" iptables -w -t mangle -S OUTPUT | grep -q -- "--ctstate NEW,RELATED -j NFQUEUE" && return 0
    sleep 0.05
  done
  fail "opensnitchd did not add its queue rule"
}

start_tripline() {  # key
  cat >"$WORK/tripline-$1.toml" <<TOML
[queue]
first = 0
count = 1
[log]
events = ""
TOML
  start_bg "$NS_G" "$WORK/tripline-$1.log" "$TRIPLINE" run -c "$WORK/tripline-$1.toml"
  CONSUMER_PID=$BG_PID
  wait_queues_bound 1 || fail "tripline did not bind queue 0"
}

if (( DO_LIVE )); then
  setup_topology
  start_bg "$NS_S" "$WORK/listen.log" "$TCP_CONNECT" --listen "$TCP_PORT"
  in_ns "$NS_G" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
  for _ in $(seq 50); do in_ns "$NS_S" ss -lnt | grep -q ":$TCP_PORT " && break; sleep 0.1; done
  log "live: namespaces $NS_G — $NS_S ready; connections from $NS_G to $SERVER4:$TCP_PORT"

  measure_connects none ""

  start_opensnitch
  measure_connects opensnitch opensnitchd
  R[opensnitch.version]=$(opensnitchd -version 2>/dev/null | head -n1)
  stop_consumer
  # It removes its rules on exit; if it did not, they go now (the namespace goes at exit).
  for _ in 1 2 3 4; do in_ns "$NS_G" iptables -w -t mangle -D OUTPUT "${OS_RULE[@]}" 2>/dev/null || break; done

  in_ns "$NS_G" iptables -w -t mangle -I OUTPUT "${OS_RULE[@]}"
  start_tripline same_rule
  measure_connects tripline_new tripline
  stop_consumer
  in_ns "$NS_G" iptables -w -t mangle -D OUTPUT "${OS_RULE[@]}"

  in_ns "$NS_G" iptables -w -t mangle -I OUTPUT -j NFQUEUE --queue-num 0 --queue-bypass
  in_ns "$NS_G" iptables -w -t mangle -I INPUT -j NFQUEUE --queue-num 0 --queue-bypass
  start_tripline full_queue
  measure_connects tripline_full tripline
  stop_consumer
  in_ns "$NS_G" iptables -w -t mangle -D OUTPUT -j NFQUEUE --queue-num 0 --queue-bypass
  in_ns "$NS_G" iptables -w -t mangle -D INPUT -j NFQUEUE --queue-num 0 --queue-bypass
fi

# ------------------------------------------------------------ summary
ratio() { if [[ ${2:-0} != 0 ]]; then calc "$1 / $2" %.3f; else echo "-"; fi; }
cat <<EOF

== tripline and its peers, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs; $(( $(date +%s) - START )) s
== load average at the start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg)
EOF
if (( DO_REPLAY )); then
  for f in c8000 default; do
    conc=200
    [[ $f == c8000 ]] && conc=8000
    cat <<EOF

replay: tripline-gen --packets $PACKETS --seed 1$([[ $f == c8000 ]] && echo " --concurrency 8000") ($conc flows at a time), $RUNS runs each, medians
  tool                                  wall s (min–max)      packets/s    CPU s   tripline's packets/s ÷ this
EOF
    for tool in tripline tripline_events ndpiReader tshark; do
      case $tool in
        tripline) name="tripline replay" ;;
        tripline_events) name="tripline replay --events /dev/null" ;;
        ndpiReader) name="ndpiReader -i (nDPI $(dpkg-query -W -f='${Version}' libndpi-bin 2>/dev/null))" ;;
        tshark) name="tshark -q -z io,stat,0" ;;
      esac
      printf '  %-37s %-21s %-12s %-7s %s\n' "$name" "${R[$f.$tool.wall]} (${R[$f.$tool.range]})" \
        "${R[$f.$tool.pps]}" "${R[$f.$tool.cpu]}" "$(ratio "${R[$f.tripline.pps]}" "${R[$f.$tool.pps]}")"
    done
  done
  echo "  (each reads the whole file on one thread: the limit is that thread's CPU, the file in the page cache)"
fi
if (( DO_LIVE )); then
  cat <<EOF

live: new TCP connections from the gateway namespace (4 threads, connect + reset, ${SECS} s), then
connect() latency paced at one per ms (1 thread, ${SECS} s); microseconds
  consumer                              connects/s  p50 loaded  paced p50  p90    p99    failed  queued pkts  CPU s/1000 conn  limit
EOF
  for k in none opensnitch tripline_new tripline_full; do
    case $k in
      none) name="no queue" ;;
      opensnitch) name="opensnitchd ${R[opensnitch.version]:-} (ct state new)" ;;
      tripline_new) name="tripline (same ct state new rule)" ;;
      tripline_full) name="tripline (full queue)" ;;
    esac
    printf '  %-37s %-11s %-11s %-10s %-6s %-6s %-7s %-12s %-16s %s\n' "$name" "${R[$k.cps]}" \
      "${R[$k.load_p50]}" "${R[$k.p50]}" "${R[$k.p90]}" "${R[$k.p99]}" "${R[$k.failed]}" \
      "${R[$k.queued]}" "${R[$k.cpu_per_k]}" "${R[$k.limit]}"
  done
  cat <<EOF
  ratio tripline (same rule) / opensnitchd  $(ratio "${R[tripline_new.cps]}" "${R[opensnitch.cps]}")
  ratio tripline (full queue) / opensnitchd $(ratio "${R[tripline_full.cps]}" "${R[opensnitch.cps]}")
EOF
fi
if (( QUICK )); then echo "(--quick: a smoke test; do not quote these figures)"; fi
