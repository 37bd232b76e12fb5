#!/usr/bin/env bash
# tripline as the systemd unit runs it: an unprivileged user (nobody) holding
# only CAP_NET_ADMIN (effective, permitted, inheritable, ambient and the whole
# bounding set), started with setpriv, on real NFQUEUE queues. Only its state
# folder (DNS state file, captures) and its log folder (event log) are
# writable to it; the config, the script and the test's other files are not.
# Checks: `tripline check` passes as that user (ExecStartPre=), the queues bind, traffic flows, a trigger records a capture, events
# and the DNS state file are written, the process holds exactly CAP_NET_ADMIN,
# the root-only queue table (/proc/net/netfilter/nfnetlink_queue) is named in
# a warning instead of every packet being called uninspected, and a clean
# SIGTERM exits 0 with every queued packet judged.
#   unprivileged_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: unprivileged_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
id nobody >/dev/null 2>&1 || skip "needs the user nobody"
export TZ=UTC
HTTP_PORT=8080
TELNET_PORT=2323
RUN_UID=$(id -u nobody) RUN_GID=$(id -g nobody)

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_http_server "$HTTP_PORT"
start_bg "$NS_S" "$TL_WORK/telnet.log" "$PY" -m http.server "$TELNET_PORT" --bind :: \
  --directory "$TL_WORK/www"

# The layout of the unit: /var/lib/tripline and /var/log/tripline writable,
# the configuration root's and read-only.
chmod 711 "$TL_WORK"                      # traversable, not listable, by nobody
ETC="$TL_WORK/etc" STATE="$TL_WORK/state" LOGS="$TL_WORK/logs"
mkdir -p "$ETC" "$STATE" "$LOGS"
chown "$RUN_UID:$RUN_GID" "$STATE" "$LOGS"
chmod 750 "$STATE" "$LOGS"
cp "$ROOT/lua/scripts/block_telnet.lua" "$ETC/"
cat >"$ETC/tripline.toml" <<TOML
[queue]
first = 0
count = 2
default_verdict = "accept"
[log]
events = "$LOGS/eve.json"
[dns]
resolvers = ["$SERVER4"]
state_file = "$STATE/dns-cache.state"
[lua]
script = "$ETC/block_telnet.lua"
[capture]
dir = "$STATE/capture"
TOML
mkdir -p "$STATE/capture" && chown "$RUN_UID:$RUN_GID" "$STATE/capture"
chmod -R go-w "$ETC"

# ExecStartPre=: `tripline check` as the same user passes.
in_ns "$NS_G" setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --clear-groups --no-new-privs \
  "$TRIPLINE" check -c "$ETC/tripline.toml" >"$TL_WORK/check.out" 2>&1 ||
  fail "tripline check as $RUN_UID failed: $(tail -3 "$TL_WORK/check.out")"

# What systemd does for the unit (AmbientCapabilities= and
# CapabilityBoundingSet=CAP_NET_ADMIN, NoNewPrivileges=yes).
LOG="$TL_WORK/tripline.log"
start_bg "$NS_G" "$LOG" setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --clear-groups \
  --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin \
  --no-new-privs "$TRIPLINE" run -c "$ETC/tripline.toml"
PID=$BG_PID
wait_queues_bound 2 || fail "tripline as nobody with CAP_NET_ADMIN did not bind queues 0 and 1"

# The daemon is the child of `ip netns exec`'s exec chain: same pid.
status=/proc/$PID/status
for _ in $(seq 20); do grep -q "^Uid:.*\b$RUN_UID\b" "$status" && break; sleep 0.05; done
read -r _ ruid euid _ < <(grep '^Uid:' "$status")
(( ruid == RUN_UID && euid == RUN_UID )) || fail "tripline runs as uid $ruid/$euid, expected $RUN_UID"
want=$(printf '%016x' $(( 1 << 12 )))   # CAP_NET_ADMIN
for field in CapEff CapPrm CapAmb CapBnd; do
  have=$(awk -v f="$field:" '$1 == f {print $2}' "$status")
  [[ $have == "$want" ]] || fail "$field is $have, expected only CAP_NET_ADMIN ($want)"
done
grep -q '^NoNewPrivs:[[:space:]]*1' "$status" || fail "NoNewPrivs is not set"
log "tripline runs as uid $RUN_UID with only CAP_NET_ADMIN (CapEff=CapBnd=$want)"

ok=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 5)
(( ok == 5 )) || fail "HTTP through tripline as nobody: $ok of 5 downloads complete"
rc=0
in_ns "$NS_C" curl -s --max-time 3 -o /dev/null "http://$SERVER4:$TELNET_PORT/" || rc=$?
(( rc == 28 )) || fail "TCP $TELNET_PORT: curl exit $rc, expected 28 (the trigger drops it)"
expect_event "$LOGS/eve.json" "no blocked telnet alert in the event log" \
  "e.get('event_type') == 'alert' and e['dest_port'] == $TELNET_PORT"

queued=$(check_queue_table)
stop_tripline "$PID"
judged=$(counter_value "$LOG" packets)
(( judged == queued )) || fail "kernel queued $queued packets, tripline judged $judged"
[[ -s $STATE/dns-cache.state ]] || fail "no DNS state file written in $STATE"
mapfile -t caps < <(find "$STATE/capture" -name 'tripline-*.pcapng')
(( ${#caps[@]} == 1 )) || fail "expected one capture file in $STATE/capture, found ${#caps[@]}"
[[ $(stat -c %u "${caps[0]}") == "$RUN_UID" ]] || fail "capture file not owned by $RUN_UID"
# Root-only /proc/net/netfilter/nfnetlink_queue: said once, and no packet is
# called uninspected for it.
grep -q 'crossed uninspected' "$LOG" &&
  fail "packets wrongly reported uninspected: $(grep -m1 'crossed uninspected' "$LOG")"
(( $(counter_value "$LOG" nfq_uninspected) == 0 )) || fail "nfq_uninspected is not 0"
grep -q 'cannot read /proc/net/netfilter/nfnetlink_queue' "$LOG" ||
  fail "no warning that the queue table is unreadable as $RUN_UID"
denied=$(grep -i 'permission denied' "$LOG" | grep -v nfnetlink_queue || true)
[[ -z $denied ]] || fail "permission denied in the log: $denied"
log "as nobody: 5/5 HTTP, telnet dropped with an alert, capture ${caps[0]##*/}, DNS state written"
echo "PASS"
