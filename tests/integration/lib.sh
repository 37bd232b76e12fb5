# Shared helpers for the network-namespace integration tests; source it.
# Builds client — gw — server namespaces (names unique per run: tl-<pid>-*),
# joined by veth pairs, IPv4 (10.201.x) and IPv6 (fd00:201:x::), with the gw
# forwarding. A trap on EXIT stops every daemon the test started and deletes
# the namespaces, also when the test fails. Exit code 77 means "skipped".
# Files (daemon logs, events) are kept in /tmp when a test fails or TL_KEEP=1.

set -euo pipefail

PY=/usr/bin/python3                       # Debian's python3, not one earlier on PATH
TL_PREFIX="tl-$$"
NS_C="$TL_PREFIX-client"
NS_G="$TL_PREFIX-gw"
NS_S="$TL_PREFIX-server"
CLIENT4=10.201.1.2 GW4_C=10.201.1.1 GW4_S=10.201.2.1 SERVER4=10.201.2.2
CLIENT6=fd00:201:1::2 GW6_C=fd00:201:1::1 GW6_S=fd00:201:2::1 SERVER6=fd00:201:2::2
TL_WORK=$(mktemp -d /tmp/tripline-it.XXXXXX)
TL_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TL_PIDS=()                                # background processes we started
TL_NAMESPACES=()                          # namespaces we created
TL_ETC_DIRS=()                            # /etc/netns/<ns> folders we created
TL_FAILED=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Prints what helps to understand a failure: daemon output, queue table, rules.
diagnose() {
  local f
  for f in "$TL_WORK"/*.log; do
    [[ -s $f ]] || continue
    echo "---- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
  if ip netns list 2>/dev/null | grep -qw "$NS_G"; then
    echo "---- $NS_G: /proc/net/netfilter/nfnetlink_queue" >&2
    ip netns exec "$NS_G" cat /proc/net/netfilter/nfnetlink_queue >&2 2>/dev/null || true
    echo "---- $NS_G: nft list ruleset" >&2
    ip netns exec "$NS_G" nft list ruleset >&2 2>/dev/null || true
  fi
}

fail() {
  echo "FAIL: $*" >&2
  TL_FAILED=1
  diagnose
  exit 1
}

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

cleanup() {
  local rc=$? pid ns d f
  trap - EXIT
  for pid in "${TL_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${TL_PIDS[@]}"; do
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Anything still running inside our namespaces was started by this test.
  for ns in "${TL_NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  for ns in "${TL_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  for d in "${TL_ETC_DIRS[@]}"; do rm -rf "$d"; done
  # Every event file a passing test wrote is EVE that Suricata's tools read
  # (contrib/eve: Suricata's schema plus one `tripline` object).
  local events=()
  for f in "$TL_WORK"/events*.json; do [[ -s $f ]] && events+=("$f"); done
  if (( rc == 0 && ${#events[@]} > 0 )); then
    if ! /usr/bin/python3 "$TL_LIB_DIR/../../contrib/eve/validate-eve.py" "${events[@]}" >&2; then
      echo "FAIL: events do not validate against contrib/eve/tripline-schema.json" >&2
      rc=1
    fi
  fi
  if (( (rc == 0 || rc == 77) && ${TL_KEEP:-0} == 0 )); then
    rm -rf "$TL_WORK"
  else
    echo "test files kept in $TL_WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT

require_root_netns() {
  [[ $(id -u) == 0 ]] || skip "needs root (network namespaces, NFQUEUE)"
  command -v ip >/dev/null || skip "needs iproute2"
  [[ -x $PY ]] || skip "needs $PY"
}

# Waits (5 s at most) until no IPv6 address in the namespaces is tentative.
# Link-local addresses go through duplicate address detection (~1-2 s) after a
# link comes up (the global ones are added `nodad`); until then neighbour
# discovery stalls and a namespace's first IPv6 packet is late by a second or
# two (a lost first SYN, a DNS answer after the client gave up).
wait_ipv6_ready() {
  local ns
  for ns in "$@"; do
    for _ in $(seq 50); do
      [[ -z $(ip -n "$ns" -6 addr show tentative) ]] && break
      sleep 0.1
    done
    [[ -z $(ip -n "$ns" -6 addr show tentative) ]] || fail "IPv6 addresses in $ns still tentative after 5 s"
  done
}

# client (CLIENT4/6) — gw (GW4_C/6_C | GW4_S/6_S) — server (SERVER4/6)
setup_topology() {
  local ns
  for ns in "$NS_C" "$NS_G" "$NS_S"; do
    ip netns add "$ns"
    TL_NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
  done
  ip link add c0 netns "$NS_C" type veth peer name gw-c netns "$NS_G"
  ip link add s0 netns "$NS_S" type veth peer name gw-s netns "$NS_G"
  ip -n "$NS_C" addr add "$CLIENT4/24" dev c0
  ip -n "$NS_C" addr add "$CLIENT6/64" dev c0 nodad
  ip -n "$NS_G" addr add "$GW4_C/24" dev gw-c
  ip -n "$NS_G" addr add "$GW6_C/64" dev gw-c nodad
  ip -n "$NS_G" addr add "$GW4_S/24" dev gw-s
  ip -n "$NS_G" addr add "$GW6_S/64" dev gw-s nodad
  ip -n "$NS_S" addr add "$SERVER4/24" dev s0
  ip -n "$NS_S" addr add "$SERVER6/64" dev s0 nodad
  ip -n "$NS_C" link set c0 up
  ip -n "$NS_S" link set s0 up
  ip -n "$NS_G" link set gw-c up
  ip -n "$NS_G" link set gw-s up
  ip -n "$NS_C" route add default via "$GW4_C"
  ip -n "$NS_C" -6 route add default via "$GW6_C"
  ip -n "$NS_S" route add default via "$GW4_S"
  ip -n "$NS_S" -6 route add default via "$GW6_S"
  ip netns exec "$NS_G" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$NS_G" sysctl -qw net.ipv6.conf.all.forwarding=1
  wait_ipv6_ready "$NS_C" "$NS_G" "$NS_S"
}

# One more host hanging off the gw on a link of its own:
#   add_host NS GW_IF GW4 HOST4 [GW6 HOST6]   (/24 and /64 networks)
add_host() {
  local ns=$1 gw_if=$2 gw4=$3 host4=$4 gw6=${5:-} host6=${6:-}
  ip netns add "$ns"
  TL_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  ip link add h0 netns "$ns" type veth peer name "$gw_if" netns "$NS_G"
  ip -n "$ns" addr add "$host4/24" dev h0
  ip -n "$NS_G" addr add "$gw4/24" dev "$gw_if"
  if [[ -n $host6 ]]; then
    ip -n "$ns" addr add "$host6/64" dev h0 nodad
    ip -n "$NS_G" addr add "$gw6/64" dev "$gw_if" nodad
  fi
  ip -n "$ns" link set h0 up
  ip -n "$NS_G" link set "$gw_if" up
  ip -n "$ns" route add default via "$gw4"
  [[ -z $host6 ]] || ip -n "$ns" -6 route add default via "$gw6"
  wait_ipv6_ready "$ns" "$NS_G"
}

# /etc/resolv.conf as processes in namespace $1 see it (`ip netns exec`
# bind-mounts /etc/netns/NS/resolv.conf over it); removed at exit.
set_netns_resolver() {
  local ns=$1 server=$2
  mkdir -p "/etc/netns/$ns"
  TL_ETC_DIRS+=("/etc/netns/$ns")
  printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$server" >"/etc/netns/$ns/resolv.conf"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Starts a command in the background inside a namespace; its pid is in BG_PID.
start_bg() {
  local ns=$1 out=$2; shift 2
  ip netns exec "$ns" "$@" >"$out" 2>&1 &
  BG_PID=$!
  TL_PIDS+=("$BG_PID")
}

# Rows of the gw's queue table: "queue portid waiting mode range qdrop udrop idseq 1".
queue_table() { in_ns "$NS_G" cat /proc/net/netfilter/nfnetlink_queue; }

# Waits (bounded) until `n` queues are bound in the gw.
wait_queues_bound() {
  local n=$1 i
  for i in $(seq 100); do
    (( $(queue_table | wc -l) >= n )) && return 0
    sleep 0.05
  done
  return 1
}

wait_queues_unbound() {
  local i
  for i in $(seq 100); do
    (( $(queue_table | wc -l) == 0 )) && return 0
    sleep 0.05
  done
  return 1
}

# Waits until no queued packet waits for its verdict; fails otherwise.
# Then checks that nothing was dropped by the kernel and prints the sum of the
# id sequences (packets that went through the queues).
check_queue_table() {
  local i rows waiting
  for i in $(seq 40); do
    waiting=$(queue_table | awk '{w += $3} END {print w + 0}')
    (( waiting == 0 )) && break
    sleep 0.05
  done
  rows=$(queue_table)
  [[ -n $rows ]] || fail "no queue bound in $NS_G"
  echo "$rows" | awk '
    $3 != 0 { printf "queue %s: %s packets still waiting for a verdict\n", $1, $3; bad = 1 }
    $6 != 0 { printf "queue %s: queue_dropped = %s\n", $1, $6; bad = 1 }
    $7 != 0 { printf "queue %s: user_dropped = %s\n", $1, $7; bad = 1 }
    END { exit bad }' >&2 || fail "queue table shows lost or stuck packets"
  echo "$rows" | awk '{s += $8} END {print s + 0}'
}

# UDP sink in the server: one line per datagram received, to file $2.
start_udp_sink() {
  local port=$1 out=$2
  start_bg "$NS_S" "$TL_WORK/udp_sink.log" "$PY" -u -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
with open(sys.argv[2], "a") as f:
    while True:
        data, peer = s.recvfrom(2048)
        f.write(data.decode(errors="replace") + "\n")
        f.flush()
' "$port" "$out"
}

# Sends `flows` x `per_flow` UDP datagrams from the client to addr:port, each
# flow from its own socket (own source port), a little apart.
send_udp() {
  local addr=$1 port=$2 flows=$3 per_flow=$4 tag=$5
  in_ns "$NS_C" "$PY" -c '
import socket, sys, time
addr, port, flows, per_flow, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
socks = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(flows)]
for i in range(per_flow):
    for n, s in enumerate(socks):
        s.sendto(f"{tag} flow {n} seq {i}".encode(), (addr, port))
    time.sleep(0.002)
' "$addr" "$port" "$flows" "$per_flow" "$tag"
}

# Lines in file $1 that start with tag $2, waiting (bounded) for `want` of them.
count_received() {
  local file=$1 tag=$2 want=$3 secs=${4:-5} i n=0
  for i in $(seq $(( secs * 10 ))); do
    n=$(grep -c "^$tag " "$file" 2>/dev/null || true)
    (( n >= want )) && break
    sleep 0.1
  done
  echo "${n:-0}"
}

start_http_server() {
  local port=$1
  mkdir -p "$TL_WORK/www"
  head -c 100000 /dev/urandom >"$TL_WORK/www/blob"
  start_bg "$NS_S" "$TL_WORK/http.log" "$PY" -m http.server "$port" --bind :: \
    --directory "$TL_WORK/www"
  local i
  for i in $(seq 50); do
    in_ns "$NS_S" "$PY" -c 'import socket,sys; socket.create_connection(("::1", int(sys.argv[1])), 1)' \
      "$port" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "http server did not start"
}

# `n` HTTP downloads of the blob from the client; prints how many were complete and intact.
http_fetches() {
  local url=$1 n=$2 ok=0 i
  for i in $(seq "$n"); do
    if in_ns "$NS_C" curl -sf --max-time 5 -o "$TL_WORK/fetched" "$url" &&
       cmp -s "$TL_WORK/fetched" "$TL_WORK/www/blob"; then
      ok=$(( ok + 1 ))
    fi
  done
  echo "$ok"
}

# Last value of counter $2 in tripline's "name value" summary lines in log $1 (0 if none).
counter_value() {
  awk -v name="$2" '$1 == name && $2 ~ /^[0-9]+$/ {v = $2} END {print v + 0}' "$1"
}

# Makes a running tripline (pid $1, stderr in log $2) print its counters (SIGUSR1)
# and waits, bounded, until the new summary is in the log.
dump_counters() {
  local pid=$1 logfile=$2 before i
  before=$(grep -c '^packets ' "$logfile" || true)
  kill -USR1 "$pid"
  for i in $(seq 50); do
    (( $(grep -c '^packets ' "$logfile" || true) > before )) && { sleep 0.05; return 0; }
    sleep 0.05
  done
  fail "tripline printed no counters on SIGUSR1"
}

# Waits (bounded: $4 seconds, default 3) until the JSON-lines event file $1
# holds an event for which the Python expression $3 (over the event `e`) is
# true; fails with $2 otherwise.
expect_event() {
  local file=$1 what=$2 expr=$3 secs=${4:-3} i
  for i in $(seq $(( secs * 10 ))); do
    "$PY" - "$file" "$expr" <<'PY' && return 0
import json, sys
path, expr = sys.argv[1:]
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    sys.exit(1)
for line in lines:
    try:
        e = json.loads(line)
    except ValueError:
        continue  # a line still being written
    if eval(expr, {}, {"e": e}):
        sys.exit(0)
sys.exit(1)
PY
    sleep 0.1
  done
  fail "$what"
}

# Writes a tripline config to $1.
write_config() {
  local file=$1 verdict=$2 events=$3
  cat >"$file" <<TOML
[queue]
first = 0
count = 2
default_verdict = "$verdict"
[log]
events = "$events"
TOML
}

# Starts tripline in the gw; its pid is in TL_DAEMON.
start_tripline() {
  local bin=$1 config=$2 logfile=$3
  start_bg "$NS_G" "$logfile" "$bin" run -c "$config"
  TL_DAEMON=$BG_PID
  wait_queues_bound 2 || fail "tripline did not bind queues 0 and 1"
}

# SIGTERM, then the daemon must exit 0 within a few seconds and unbind.
stop_tripline() {
  local pid=$1 i rc
  kill -TERM "$pid"
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "tripline did not exit within 5 s of SIGTERM"
  rc=0
  wait "$pid" || rc=$?
  (( rc == 0 )) || fail "tripline exited with status $rc after SIGTERM"
  wait_queues_unbound || fail "queues still bound after tripline exited"
}
