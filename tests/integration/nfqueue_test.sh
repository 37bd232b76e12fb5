#!/usr/bin/env bash
# End-to-end test of `tripline run` on real NFQUEUE queues: client — gw —
# server namespaces, the contrib rules (iptables or nft) on the gw queueing
# forwarded traffic to queues 0-1, UDP and TCP (v4 and v6) from client to
# server. Checks that everything arrives, that every queued packet got its
# verdict, that "drop" and "reject" stop traffic, that traffic flows again
# (bypass) once tripline stops, and that flow events are written.
#   nfqueue_test.sh iptables|nft PATH_TO_TRIPLINE
set -euo pipefail
MODE=${1:?usage: nfqueue_test.sh iptables|nft PATH_TO_TRIPLINE}
TRIPLINE=${2:?usage: nfqueue_test.sh iptables|nft PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
export TZ=UTC
UDP_PORT=9999
HTTP_PORT=8080

setup_topology
log "namespaces $NS_C — $NS_G — $NS_S ready"

case "$MODE" in
  iptables)
    in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2 ;;
  nft)
    # The nft test must test nft: no fallback to iptables, skip where the kernel lacks it.
    if ! in_ns "$NS_G" env TRIPLINE_NFT_NO_FALLBACK=1 \
         bash "$ROOT/contrib/nftables/tripline-nft.sh" up 0 2 2>"$TL_WORK/nft-up.log"; then
      in_ns "$NS_G" nft -f - >/dev/null 2>&1 <<'NFT' || skip "kernel has no nftables queue support (CONFIG_NFT_QUEUE)"
table inet tl_probe { chain c { queue flags bypass to 0; }; }
delete table inet tl_probe
NFT
      cat "$TL_WORK/nft-up.log" >&2
      fail "contrib/nftables/tripline-nft.sh up failed"
    fi
    in_ns "$NS_G" nft list table inet tripline >/dev/null || fail "nft table inet tripline missing" ;;
  *) fail "unknown mode $MODE (iptables|nft)" ;;
esac

start_udp_sink "$UDP_PORT" "$TL_WORK/udp.out"
start_http_server "$HTTP_PORT"

# ---------------------------------------------------------------- accept
log "phase accept: tripline run, default_verdict = accept"
write_config "$TL_WORK/accept.toml" accept "$TL_WORK/events.json"
start_tripline "$TRIPLINE" "$TL_WORK/accept.toml" "$TL_WORK/tripline-accept.log"
ACCEPT_PID=$TL_DAEMON

# A second daemon on the same queues must fail cleanly, leaving the first alone
# (with a metrics port of its own, so that it is the queues it fails on).
{ cat "$TL_WORK/accept.toml"; printf '[metrics]\nlisten = "127.0.0.1:9741"\n'; } >"$TL_WORK/second.toml"
rc=0
in_ns "$NS_G" timeout 10 "$TRIPLINE" run -c "$TL_WORK/second.toml" \
  >"$TL_WORK/tripline-second.log" 2>&1 || rc=$?
(( rc != 0 && rc != 124 )) || fail "a second tripline on bound queues did not fail (status $rc)"
kill -0 "$ACCEPT_PID" 2>/dev/null || fail "first tripline died when a second one tried its queues"

send_udp "$SERVER4" "$UDP_PORT" 10 20 a4
send_udp "$SERVER6" "$UDP_PORT" 4 10 a6
got4=$(count_received "$TL_WORK/udp.out" a4 200)
got6=$(count_received "$TL_WORK/udp.out" a6 40)
(( got4 == 200 )) || fail "UDP/IPv4 through the queue: $got4 of 200 datagrams arrived"
(( got6 == 40 )) || fail "UDP/IPv6 through the queue: $got6 of 40 datagrams arrived"
log "UDP: 200/200 IPv4 and 40/40 IPv6 datagrams arrived"

ok4=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 20)
ok6=$(http_fetches "http://[$SERVER6]:$HTTP_PORT/blob" 5)
(( ok4 == 20 )) || fail "TCP/IPv4 through the queue: $ok4 of 20 downloads complete"
(( ok6 == 5 )) || fail "TCP/IPv6 through the queue: $ok6 of 5 downloads complete"
log "TCP: 20/20 IPv4 and 5/5 IPv6 downloads of 100 kB complete and intact"

queued=$(check_queue_table)
(( queued >= 240 + 25 * 10 )) || fail "only $queued packets went through the queues"
log "queue table clean: $queued packets queued, none waiting or dropped"

stop_tripline "$ACCEPT_PID"
# The exit summary has "name value" counter lines; when present, tripline must
# have judged exactly the packets the kernel queued.
judged=$(awk '$1 == "packets" && $2 ~ /^[0-9]+$/ {print $2}' "$TL_WORK/tripline-accept.log" | tail -n1)
if [[ -n $judged ]]; then
  (( judged == queued )) || fail "kernel queued $queued packets, tripline judged $judged"
  msgs=$(awk '$1 == "nfq_verdict_msgs" {print $2}' "$TL_WORK/tripline-accept.log" | tail -n1)
  log "tripline judged $judged packets with ${msgs:-?} verdict messages"
fi

# Flow events: JSON lines, TCP and UDP flows between client and server.
"$PY" - "$TL_WORK/events.json" "$CLIENT4" "$SERVER4" "$CLIENT6" "$SERVER6" <<'PY' || fail "flow events missing or malformed"
import json, sys
path, c4, s4, c6, s6 = sys.argv[1:]
flows = []
for n, line in enumerate(open(path), 1):
    e = json.loads(line)  # every line must be JSON
    if e.get("event_type") == "flow":
        flows.append(e)
def has(proto, c, s):
    return any(f.get("proto") == proto and {f.get("src_ip"), f.get("dest_ip")} == {c, s} for f in flows)
missing = [what for what, ok in [("TCP v4", has("TCP", c4, s4)), ("UDP v4", has("UDP", c4, s4)),
                                 ("TCP v6", has("TCP", c6, s6)), ("UDP v6", has("UDP", c6, s6))] if not ok]
if missing:
    sys.exit(f"{path}: {len(flows)} flow events, none for {', '.join(missing)}")
print(f"{len(flows)} flow events", file=sys.stderr)
PY

# ---------------------------------------------------------------- bypass
log "phase bypass: no tripline bound, traffic must flow"
send_udp "$SERVER4" "$UDP_PORT" 2 10 b4
got=$(count_received "$TL_WORK/udp.out" b4 20)
(( got == 20 )) || fail "bypass: $got of 20 UDP datagrams arrived with no tripline bound"
ok=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 3)
(( ok == 3 )) || fail "bypass: $ok of 3 downloads complete with no tripline bound"

# ---------------------------------------------------------------- drop
log "phase drop: default_verdict = drop stops traffic"
write_config "$TL_WORK/drop.toml" drop "$TL_WORK/events-drop.json"
start_tripline "$TRIPLINE" "$TL_WORK/drop.toml" "$TL_WORK/tripline-drop.log"
DROP_PID=$TL_DAEMON
send_udp "$SERVER4" "$UDP_PORT" 2 10 d4
sleep 1
got=$(grep -c "^d4 " "$TL_WORK/udp.out" || true)
(( got == 0 )) || fail "drop: $got UDP datagrams arrived"
start=$(date +%s)
if in_ns "$NS_C" curl -s --connect-timeout 2 --max-time 4 -o /dev/null "http://$SERVER4:$HTTP_PORT/blob"; then
  fail "drop: a TCP connection succeeded"
fi
(( $(date +%s) - start <= 6 )) || fail "drop: curl took longer than its own time limit"
check_queue_table >/dev/null
stop_tripline "$DROP_PID"

# ---------------------------------------------------------------- reject
log "phase reject: default_verdict = reject refuses connections at once"
write_config "$TL_WORK/reject.toml" reject "$TL_WORK/events-reject.json"
start_tripline "$TRIPLINE" "$TL_WORK/reject.toml" "$TL_WORK/tripline-reject.log"
REJECT_PID=$TL_DAEMON
rc=0
start_ms=$(date +%s%3N)
in_ns "$NS_C" curl -s --connect-timeout 4 --max-time 5 -o /dev/null "http://$SERVER4:$HTTP_PORT/blob" || rc=$?
elapsed=$(( $(date +%s%3N) - start_ms ))
# curl status 7: could not connect (refused: the TCP reset), as opposed to 28 (timeout).
(( rc == 7 )) || fail "reject: curl status $rc after $elapsed ms, expected 7 (connection refused)"
(( elapsed < 2000 )) || fail "reject: refusal took $elapsed ms"
rc=0
in_ns "$NS_C" curl -s -6 --connect-timeout 4 --max-time 5 -o /dev/null "http://[$SERVER6]:$HTTP_PORT/blob" || rc=$?
(( rc == 7 )) || fail "reject (IPv6): curl status $rc, expected 7 (connection refused)"
send_udp "$SERVER4" "$UDP_PORT" 1 5 r4
sleep 0.5
got=$(grep -c "^r4 " "$TL_WORK/udp.out" || true)
(( got == 0 )) || fail "reject: $got UDP datagrams arrived"
check_queue_table >/dev/null
stop_tripline "$REJECT_PID"
log "reject: TCP refused in $elapsed ms, UDP stopped"

# ---------------------------------------------------------------- bypass again
send_udp "$SERVER4" "$UDP_PORT" 2 10 e4
got=$(count_received "$TL_WORK/udp.out" e4 20)
(( got == 20 )) || fail "after stop: $got of 20 UDP datagrams arrived"
ok=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 3)
(( ok == 3 )) || fail "after stop: $ok of 3 downloads complete"

case "$MODE" in
  iptables) in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" down ;;
  nft) in_ns "$NS_G" bash "$ROOT/contrib/nftables/tripline-nft.sh" down ;;
esac
log "PASS ($MODE)"
