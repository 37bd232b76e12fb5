#!/usr/bin/env bash
# The control socket and `tripline ctl` against the real daemon on real queues
# (client — gw — server namespaces, the contrib iptables rules, dnsmasq as the
# trusted resolver, [egress] enforce with action reject). Checks:
#   1. status (human and --json, parsed here) answers version, queues, workers;
#   2. flows --top / --host during a slow download show that flow;
#   3. dns lookup after a dig through the gateway shows name -> address for the
#      client; dns flush then closes it: a new connection is refused;
#   4. capture start host / list / stop make a pcap tshark reads;
#   5. reload is answered "reload requested" and the daemon reloads (SIGHUP);
#   6. an unprivileged user (setpriv) is refused: by the file mode, and with the
#      mode opened up, by the SO_PEERCRED check (counted);
#   7. hostile clients (one silent, one sending 10 MB, 60 at once) neither stop
#      the socket nor the packets: downloads go on meanwhile;
#   8. the socket file is gone after the daemon stops.
#   control_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: control_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
for tool in dnsmasq dig curl tshark setpriv; do
  command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps.sh installs it)"
done
export TZ=UTC
NAME4=10.201.2.10  # name.test
SOCK=$TL_WORK/control.sock

setup_topology
ip -n "$NS_S" addr add "$NAME4/32" dev s0
set_netns_resolver "$NS_C" "$SERVER4"
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_bg "$NS_S" "$TL_WORK/dnsmasq.log" dnsmasq --keep-in-foreground --log-facility=- \
  --conf-file=/dev/null --no-resolv --no-hosts --pid-file= --bind-interfaces \
  --listen-address="$SERVER4" --local=/test/ --host-record="name.test,$NAME4,300"
for _ in $(seq 50); do
  [[ $(in_ns "$NS_S" dig +short +time=1 +tries=1 @"$SERVER4" name.test 2>/dev/null) == "$NAME4" ]] && break
  sleep 0.1
done
start_http_server 80
mkdir -p "$TL_WORK/cap"
# Readable by the unprivileged user below (it must still not get in).
chmod 755 "$TL_WORK"

cat >"$TL_WORK/control.toml" <<TOML
[queue]
first = 0
count = 2
default_verdict = "accept"
[network]
inside = ["10.201.1.0/24"]
[log]
events = "$TL_WORK/events.json"
[dns]
resolvers = ["$SERVER4"]
min_ttl = 1
[egress]
mode = "enforce"
action = "reject"
[capture]
dir = "$TL_WORK/cap"
[control]
socket = "$SOCK"
timeout_ms = 500
max_clients = 8
[clients]
leases = ["$TL_WORK/dnsmasq.leases"]
TOML
# The client's DHCP lease (dnsmasq's format): `ctl flows` names it.
CLIENT_MAC=$(ip -n "$NS_C" link show c0 | awk '/link\/ether/ {print $2}')
echo "$(( $(date +%s) + 3600 )) $CLIENT_MAC $CLIENT4 laptop-ctl 01:$CLIENT_MAC" >"$TL_WORK/dnsmasq.leases"
start_tripline "$TRIPLINE" "$TL_WORK/control.toml" "$TL_WORK/tripline.log"
PID=$TL_DAEMON
for _ in $(seq 50); do [[ -S $SOCK ]] && break; sleep 0.1; done
[[ -S $SOCK ]] || fail "no control socket at $SOCK"
mode=$(stat -c %a "$SOCK")
[[ $mode == 660 ]] || fail "control socket mode $mode, expected 660"

ctl() { "$TRIPLINE" ctl --socket "$SOCK" "$@"; }
# jq-like checks with python: json_check FILE EXPR (r = the parsed answer)
json_check() {
  "$PY" - "$1" "$2" <<'PY' || fail "check failed on $1: $2 ($(head -c 600 "$1"))"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {}, {"r": r}) else 1)
PY
}

# ---------------------------------------------------------------- 1. status
ctl status >"$TL_WORK/status.txt" || fail "1: ctl status failed"
grep -q '^tripline ' "$TL_WORK/status.txt" || fail "1: human status has no version line"
ctl --json status >"$TL_WORK/status.json" || fail "1: ctl --json status failed"
json_check "$TL_WORK/status.json" 'r["ok"] and r["v"] == 1 and r["result"]["version"] and r["result"]["queues"] == {"first": 0, "count": 2} and len(r["result"]["workers"]) == 2 and "packets" in r["result"]["counters"]'
log "1: status answered (human and JSON)"

# ---------------------------------------------------------------- 2./3. dns, flows
got=$(in_ns "$NS_C" dig +short +time=2 +tries=2 name.test)
[[ $got == "$NAME4" ]] || fail "3: dig name.test through the gateway gave '$got'"
ctl --json dns lookup name.test >"$TL_WORK/lookup.json" || fail "3: dns lookup failed"
json_check "$TL_WORK/lookup.json" "any(e['address'] == '$NAME4' and 'name.test' in e['names'] and e['client'] != '*' for e in r['result']['entries'])"
ctl --json dns lookup "$NAME4" >"$TL_WORK/lookup-ip.json" || fail "3: dns lookup by address failed"
json_check "$TL_WORK/lookup-ip.json" "any('name.test' in e['names'] for e in r['result']['entries'])"
ctl dns lookup name.test | grep -q "$NAME4" || fail "3: human dns lookup does not show $NAME4"
log "3: dns lookup shows name.test -> $NAME4 for the client"

# A slow download (about 5 s) to see in `flows`.
start_bg "$NS_C" "$TL_WORK/slow.log" curl -s --max-time 20 --limit-rate 20k -o /dev/null "http://name.test/blob"
SLOW=$BG_PID
sleep 1.5
ctl --json flows --top 5 >"$TL_WORK/flows.json" || fail "2: ctl flows failed"
json_check "$TL_WORK/flows.json" "len(r['result']['flows']) <= 5 and any(f['dest_ip'] == '$NAME4' and f['dest_port'] == 80 and f['bytes_toclient'] > 0 and f.get('dns_name') == 'name.test' for f in r['result']['flows'])"
ctl --json flows --host "$CLIENT4" >"$TL_WORK/flows-host.json" || fail "2: ctl flows --host failed"
json_check "$TL_WORK/flows-host.json" "r['result']['flows'] and all('$CLIENT4' in (f['src_ip'], f['dest_ip']) for f in r['result']['flows'])"
json_check "$TL_WORK/flows-host.json" "any(f['client'].get('name') == 'laptop-ctl' for f in r['result']['flows'])"
ctl flows --host "$CLIENT4" | grep -q laptop-ctl || fail "2: ctl flows does not show the client's lease name"
ctl --json flows --host 10.9.9.9 >"$TL_WORK/flows-none.json" || fail "2: ctl flows --host (no match) failed"
json_check "$TL_WORK/flows-none.json" "r['result']['flows'] == []"
ctl flows --top 3 | grep -q "$NAME4:80" || fail "2: human flows output does not show $NAME4:80"
log "2: flows --top and --host show the download"

# ---------------------------------------------------------------- 4. capture
ctl --json capture start host "$CLIENT4" --seconds 30 >"$TL_WORK/cap-start.json" || fail "4: capture start failed"
CAP_ID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["id"])' "$TL_WORK/cap-start.json")
ok=$(http_fetches "http://name.test/blob" 2)
(( ok == 2 )) || fail "4: fetches during the capture: $ok of 2"
ctl --json capture list >"$TL_WORK/cap-list.json" || fail "4: capture list failed"
json_check "$TL_WORK/cap-list.json" "any(c['id'] == '$CAP_ID' and c['host'] == '$CLIENT4' for c in r['result']['captures'])"
ctl capture stop "$CAP_ID" >/dev/null || fail "4: capture stop failed"
ctl --json capture list >"$TL_WORK/cap-list2.json"
json_check "$TL_WORK/cap-list2.json" "not any(c['id'] == '$CAP_ID' for c in r['result']['captures'])"
ctl capture stop "$CAP_ID" 2>/dev/null && fail "4: stopping a stopped capture succeeded"
packets=0
for _ in $(seq 30); do
  packets=0
  for f in $("$PY" -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["result"]["files"]))' "$TL_WORK/cap-start.json"); do
    [[ -s $f ]] || continue
    n=$(tshark -r "$f" -Y "ip.addr == $CLIENT4" 2>/dev/null | wc -l) || n=0
    packets=$(( packets + n ))
  done
  (( packets > 0 )) && break
  sleep 0.2
done
(( packets > 0 )) || fail "4: tshark read no packets of $CLIENT4 in the capture files"
log "4: capture $CAP_ID: $packets packets of $CLIENT4, read by tshark"

# ---------------------------------------------------------------- 3. flush
ctl --json dns flush name.test >"$TL_WORK/flush.json" || fail "3: dns flush failed"
json_check "$TL_WORK/flush.json" "r['result']['flushed'] >= 1"
rc=0
in_ns "$NS_C" curl -s -o /dev/null --connect-timeout 3 --max-time 5 "http://$NAME4/blob" || rc=$?
(( rc == 7 )) || fail "3: after dns flush a connection to $NAME4 ended with curl status $rc, expected 7 (refused)"
log "3: after dns flush, $NAME4 is refused"

# ---------------------------------------------------------------- 5. reload
out=$(ctl reload) || fail "5: ctl reload failed"
[[ $out == "reload requested" ]] || fail "5: ctl reload said '$out'"
# SIGHUP reloads the configuration: the daemon logs "reload applied" (or refused).
for _ in $(seq 50); do grep -q 'reload \(applied\|refused\)' "$TL_WORK/tripline.log" && break; sleep 0.1; done
grep -q 'reload applied' "$TL_WORK/tripline.log" || fail "5: the daemon did not reload on ctl reload"
log "5: reload requested, the daemon reloaded"

# ---------------------------------------------------------------- 6. permissions
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
rc=0
"${NOBODY[@]}" "$TRIPLINE" ctl --socket "$SOCK" status 2>"$TL_WORK/nobody.err" >/dev/null || rc=$?
(( rc == 1 )) || fail "6: an unprivileged user got status $rc from ctl status, expected 1"
grep -qi "permission denied" "$TL_WORK/nobody.err" || fail "6: no 'permission denied' for the unprivileged user: $(cat "$TL_WORK/nobody.err")"
chmod 666 "$SOCK"  # the file mode alone no longer keeps it out: the peer check must
rc=0
"${NOBODY[@]}" "$TRIPLINE" ctl --socket "$SOCK" status 2>"$TL_WORK/nobody2.err" >/dev/null || rc=$?
chmod 660 "$SOCK"
(( rc == 1 )) || fail "6: with mode 666 the unprivileged user got status $rc, expected 1 (peer check)"
grep -qi "permission denied" "$TL_WORK/nobody2.err" || fail "6: no refusal message: $(cat "$TL_WORK/nobody2.err")"
ctl --json status >"$TL_WORK/status2.json"
json_check "$TL_WORK/status2.json" "r['result']['control']['refused_peer'] == 1"
grep -q "refused a connection from uid 65534" "$TL_WORK/tripline.log" || fail "6: the refusal was not logged"
log "6: unprivileged user refused by the file mode and by the peer check (counted, logged)"

# ---------------------------------------------------------------- 7. hostile clients
cat >"$TL_WORK/hostile.py" <<'PY'
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
silent = conn()                      # connects and says nothing
big = conn()
try:
    chunk = b"x" * 65536
    for _ in range(160):             # 10 MB
        big.sendall(chunk)
except OSError:
    pass                             # refused after the size limit: expected
many = []
for _ in range(60):                  # many at once
    try:
        many.append(conn())
    except OSError:
        pass
print("hostile clients connected:", 2 + len(many), flush=True)
time.sleep(3)
PY
start_bg "$NS_G" "$TL_WORK/hostile.log" "$PY" "$TL_WORK/hostile.py" "$SOCK"
HOSTILE=$BG_PID
for _ in $(seq 100); do grep -q connected "$TL_WORK/hostile.log" && break; sleep 0.1; done
grep -q connected "$TL_WORK/hostile.log" || fail "7: the hostile clients did not start: $(cat "$TL_WORK/hostile.log")"
ok=$(http_fetches "http://$SERVER4/blob" 10)
(( ok == 10 )) || fail "7: fetches while hostile clients held the socket: $ok of 10"
for _ in $(seq 20); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null || fail "7: ctl status not answered after the hostile clients"
wait "$HOSTILE" || true
ctl --json status >"$TL_WORK/status3.json"
json_check "$TL_WORK/status3.json" "r['result']['control']['too_large'] >= 1 and r['result']['control']['refused_busy'] >= 1 and r['result']['control']['timeouts'] >= 1"
log "7: silent, 10 MB and 60 parallel clients: packets and ctl went on (counted)"

# ---------------------------------------------------------------- 8. exit
kill "$SLOW" 2>/dev/null || true
stop_tripline "$PID"
[[ ! -e $SOCK ]] || fail "8: the control socket is still there after exit"
log "8: socket removed on exit"
echo "PASS: control socket and tripline ctl"
