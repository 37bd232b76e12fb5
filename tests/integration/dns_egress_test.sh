#!/usr/bin/env bash
# End-to-end test of DNS-gated egress on real NFQUEUE queues. Namespaces:
#   client, client2 (inside) — gw (tripline + contrib iptables rules) — server, attacker (outside)
# The server runs dnsmasq (the trusted resolver, zone .test with TTLs chosen
# here) and an HTTP server on several addresses, some in DNS and some not.
# tripline runs with [egress] mode = "enforce" and checks that:
#   1. a name resolved through the trusted resolver is reachable (v4 and v6,
#      DNS over UDP and TCP);
#   2. a literal address never resolved is refused at once (action reject,
#      curl status 7) or times out (action drop, curl status 28); DNS to a
#      resolver other than the trusted one is stopped; an address resolved by
#      another client stays closed (client scope);
#   3. a name on a block list resolves to 0.0.0.0 and its real address stays closed;
#   4. forged answers (spoofed from the resolver's address with no matching
#      query, or from another host) open nothing, and are counted as such;
#   5. after TTL + grace a new connection is blocked while an open one goes on;
#   6. after a restart with the same state file a still-valid name keeps
#      working without a new DNS query (and expired/other-client stay closed);
# and that every queued packet got its verdict.
#   dns_egress_test.sh iptables PATH_TO_TRIPLINE
set -euo pipefail
MODE=${1:?usage: dns_egress_test.sh iptables PATH_TO_TRIPLINE}
TRIPLINE=${2:?usage: dns_egress_test.sh iptables PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
# This kernel may lack the nft queue expression; the iptables NFQUEUE target is what we test.
[[ $MODE == iptables ]] || fail "unknown mode $MODE (only iptables)"
for tool in dnsmasq dig curl; do
  command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps.sh installs it)"
done
"$PY" -c 'import scapy' 2>/dev/null || fail "needs python3-scapy for $PY"
export TZ=UTC
T_START=$(date +%s)

NS_C2="$TL_PREFIX-client2" CLIENT2_4=10.201.3.2 GW4_C2=10.201.3.1
NS_A="$TL_PREFIX-attacker" ATTACKER4=10.201.4.2 GW4_A=10.201.4.1
# Server addresses: the zone's names, and some that are in no DNS answer.
NAME4=10.201.2.10 NAME6=fd00:201:2::10  # name.test, TTL 60
SHORT4=10.201.2.11                      # short.test, TTL 2
LONG4=10.201.2.12                       # long.test, TTL 600
BLOCKED4=10.201.2.13                    # blocked.test, on the block list
LITERAL4=10.201.2.20 LITERAL6=fd00:201:2::20  # in no answer
FORGED4=10.201.2.21                     # only in an answer spoofed from the resolver's address
UNTRUSTED4=10.201.2.22                  # only in an answer from the attacker's own address
OTHER4=10.201.2.23 WRONGTYPE4=10.201.2.24 ATTACKER_ANS4=10.201.2.26  # in forged answers to a pending query
FORGED_PORT=33333                       # client UDP port the forged answers go to
ECHO_PORT=7000                          # TCP echo in the server

setup_topology
add_host "$NS_C2" gw-c2 "$GW4_C2" "$CLIENT2_4"
add_host "$NS_A" gw-a "$GW4_A" "$ATTACKER4"
# The attacker spoofs the resolver's address from another link: no reverse-path filter.
for f in all default gw-a; do echo 0 | in_ns "$NS_G" tee "/proc/sys/net/ipv4/conf/$f/rp_filter" >/dev/null; done
for a in $NAME4 $SHORT4 $LONG4 $BLOCKED4 $LITERAL4 $FORGED4 $UNTRUSTED4 $OTHER4 $WRONGTYPE4 $ATTACKER_ANS4; do
  ip -n "$NS_S" addr add "$a/32" dev s0
done
for a in $NAME6 $LITERAL6; do ip -n "$NS_S" addr add "$a/128" dev s0 nodad; done
set_netns_resolver "$NS_C" "$SERVER4"
set_netns_resolver "$NS_C2" "$SERVER4"
log "namespaces $NS_C, $NS_C2 — $NS_G — $NS_S, $NS_A ready"

in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2

# ---------------------------------------------------------------- peers
start_bg "$NS_S" "$TL_WORK/dnsmasq.log" dnsmasq --keep-in-foreground --log-facility=- \
  --log-queries --conf-file=/dev/null --no-resolv --no-hosts --pid-file= --bind-interfaces \
  --listen-address="$SERVER4,$SERVER6,$LITERAL4" --local=/test/ --local-ttl=60 \
  --host-record="name.test,$NAME4,$NAME6,60" \
  --host-record="short.test,$SHORT4,2" \
  --host-record="long.test,$LONG4,600" \
  --host-record="blocked.test,$BLOCKED4,60" \
  --server=/pending.test/10.201.2.99   # no such host: pending.test queries stay unanswered
ok=0
for _ in $(seq 50); do
  if [[ $(in_ns "$NS_S" dig +short +time=1 +tries=1 @"$SERVER4" name.test 2>/dev/null) == "$NAME4" ]]; then
    ok=1; break
  fi
  sleep 0.1
done
(( ok )) || fail "dnsmasq did not answer name.test in the server namespace"
start_http_server 80
# TCP line echo in the server, for a connection held open across an expiry.
start_bg "$NS_S" "$TL_WORK/echo.log" "$PY" -u -c '
import socket, socketserver, sys
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6  # dual stack
    allow_reuse_address = True
    daemon_threads = True
Server(("::", int(sys.argv[1])), Echo).serve_forever()
' "$ECHO_PORT"
printf 'blocked.test\n' >"$TL_WORK/blocklist.txt"

# Writes the tripline config for egress action $2, events to file $3, to $1
# (the same state file for every run).
dns_config() {
  cat >"$1" <<TOML
[queue]
first = 0
count = 2
default_verdict = "accept"
[network]
inside = ["10.201.1.0/24", "10.201.3.0/24", "fd00:201:1::/64"]
[log]
events = "$3"
stats_interval = 1
[dns]
resolvers = ["$SERVER4", "$SERVER6"]
scope = "client"
min_ttl = 1
max_ttl = 3600
grace = 1
state_file = "$TL_WORK/dns-cache.state"
block_lists = ["$TL_WORK/blocklist.txt"]
block_mode = "null"
[egress]
mode = "enforce"
action = "$2"
TOML
}

# try_curl NS ARGS...: runs curl in NS; CURL_RC and CURL_MS hold its status and duration.
try_curl() {
  local ns=$1 start; shift
  CURL_RC=0
  start=$(date +%s%3N)
  in_ns "$ns" curl -s -o /dev/null --connect-timeout 3 --max-time 5 "$@" || CURL_RC=$?
  CURL_MS=$(( $(date +%s%3N) - start ))
}

# expect_fetch NS WHAT URL [curl args]: the blob must arrive complete.
expect_fetch() {
  local ns=$1 what=$2 rc=0; shift 2
  rm -f "$TL_WORK/fetched"
  in_ns "$ns" curl -sf --max-time 5 -o "$TL_WORK/fetched" "$@" || rc=$?
  (( rc == 0 )) || fail "$what: curl $* failed with status $rc, expected the page"
  cmp -s "$TL_WORK/fetched" "$TL_WORK/www/blob" || fail "$what: curl $* returned a different page"
}

# expect_refused NS WHAT URL [curl args]: action reject must refuse within a second.
expect_refused() {
  local ns=$1 what=$2; shift 2
  try_curl "$ns" "$@"
  (( CURL_RC == 7 )) ||
    fail "$what: curl $* ended with status $CURL_RC after $CURL_MS ms, expected 7 (refused by tripline's reject)"
  (( CURL_MS < 1000 )) || fail "$what: refusal took $CURL_MS ms, expected under 1000 ms"
}

dig_short() { local ns=$1; shift; in_ns "$ns" dig +short +time=2 +tries=2 "$@" | tr '\n' ' ' | sed 's/ $//'; }

alert_for() {  # Python expression: a blocked egress alert to address $1 with reason $2
  printf 'e.get("event_type") == "alert" and e.get("dest_ip") == "%s" and e["alert"].get("action") == "blocked" and e.get("tripline", {}).get("reason") == "%s"' "$1" "$2"
}

# Stops tripline; the kernel must have queued exactly the packets tripline judged.
stop_and_check() {
  local pid=$1 logfile=$2 queued judged
  queued=$(check_queue_table)
  stop_tripline "$pid"
  judged=$(counter_value "$logfile" packets)
  (( judged == queued )) || fail "kernel queued $queued packets, tripline judged $judged"
  log "queue table clean: $queued packets queued and judged, none waiting or dropped"
}

# ---------------------------------------------------------------- run 1: action reject
log "run 1: enforce, action reject"
dns_config "$TL_WORK/reject.toml" reject "$TL_WORK/events-1.json"
start_tripline "$TRIPLINE" "$TL_WORK/reject.toml" "$TL_WORK/tripline-1.log"
PID1=$TL_DAEMON
LOG1=$TL_WORK/tripline-1.log
EV1=$TL_WORK/events-1.json

# 1. Resolved names work. (curl tries name.test's AAAA first, from the client's
# IPv6 address; tripline refuses that as "other-client" because the name was
# resolved from the IPv4 address, and curl falls back to IPv4. Client scope
# keys on the query's source address, so a dual-stack host counts as two clients.)
expect_fetch "$NS_C" "1: a name resolved through the trusted resolver" http://name.test/blob
got=$(dig_short "$NS_C" name.test)
[[ $got == "$NAME4" ]] || fail "1: dig name.test from the client gave '$got', expected $NAME4"
got=$(dig_short "$NS_C" -6 AAAA name.test @"$SERVER6")
[[ $got == "$NAME6" ]] || fail "1: dig AAAA name.test over IPv6 gave '$got', expected $NAME6"
expect_fetch "$NS_C" "1: IPv6 address resolved over IPv6" -g "http://[$NAME6]/blob" -H "Host: name.test"
expect_event "$EV1" "1: no dns answer event with status trusted for name.test" \
  "e.get('event_type') == 'dns' and e.get('tripline', {}).get('dns_status') == 'trusted' and (e['dns'].get('queries') or [{}])[0].get('rrname') == 'name.test'"
log "1: name.test reachable over IPv4 and IPv6 after resolving"

# 2. Unresolved literal addresses are refused at once; client scope.
expect_refused "$NS_C" "2: literal IPv4 address never resolved" "http://$LITERAL4/blob"
ms4=$CURL_MS
expect_refused "$NS_C" "2: literal IPv6 address never resolved" -g "http://[$LITERAL6]/blob"
expect_event "$EV1" "2: no alert event 'blocked, unresolved' for $LITERAL4" "$(alert_for "$LITERAL4" unresolved)"
# A resolver that is not the trusted one (dnsmasq also listens on LITERAL4) is
# an unresolved address like any other: DNS that bypasses the resolver is stopped.
got=$(dig_short "$NS_S" @"$LITERAL4" name.test)
[[ $got == "$NAME4" ]] || fail "2: setup: dnsmasq does not answer on $LITERAL4 ('$got')"
rc=0
out=$(in_ns "$NS_C" dig +short +time=1 +tries=1 @"$LITERAL4" name.test 2>&1) || rc=$?
(( rc != 0 )) && [[ $out != *"$NAME4"* ]] ||
  fail "2: a DNS query to the untrusted resolver $LITERAL4 got through (dig status $rc: $out)"
expect_event "$EV1" "2: no alert 'blocked, unresolved' for UDP to the untrusted resolver $LITERAL4" \
  "$(alert_for "$LITERAL4" unresolved) and e.get('proto') == 'UDP' and e.get('dest_port') == 53"
expect_refused "$NS_C2" "2: client2 to name.test's address, resolved only by client" "http://$NAME4/blob"
expect_event "$EV1" "2: no alert event 'blocked, other-client' for client2 -> $NAME4" \
  "$(alert_for "$NAME4" other-client) and e.get('src_ip') == '$CLIENT2_4'"
log "2: literal addresses refused ($ms4 ms), DNS to an untrusted resolver stopped, other client's address refused"
# Once client2 resolves the name itself (over TCP this time), the address opens for it too.
got=$(dig_short "$NS_C2" +tcp name.test)
[[ $got == "$NAME4" ]] || fail "1: dig +tcp name.test from client2 gave '$got', expected $NAME4"
expect_fetch "$NS_C2" "1: client2 to name.test's address after resolving it over TCP" \
  "http://$NAME4/blob" -H "Host: name.test"
dump_counters "$PID1" "$LOG1"
v=$(counter_value "$LOG1" dns_tcp_messages)
(( v >= 2 )) || fail "1: dns_tcp_messages = $v after a DNS query and answer over TCP, expected >= 2"
log "1: name.test reachable for client2 after resolving over TCP"

# 3. Block list: null answer, real address closed.
got=$(dig_short "$NS_C" blocked.test)
[[ $got == 0.0.0.0 ]] || fail "3: dig blocked.test from the client gave '$got', expected 0.0.0.0 (block_mode null)"
expect_refused "$NS_C" "3: real address of blocked.test" "http://$BLOCKED4/blob"
expect_event "$EV1" "3: no dns event for blocked.test with a blocklist status" \
  "e.get('event_type') == 'dns' and (e['dns'].get('queries') or [{}])[0].get('rrname') == 'blocked.test' and e.get('tripline', {}).get('dns_status', '').startswith('blocklist')"
log "3: blocked.test answered 0.0.0.0, $BLOCKED4 closed"

# 4. Forged answers. The client asks the resolver for pending.test (which the
# resolver forwards to a dead upstream, so the query stays outstanding) from a
# known port and id, and records every answer that reaches it. The attacker
# then sends, spoofed from the resolver's address and port: an answer with an id
# no query has (forged.test), answers with the pending query's id and ports but
# another name or type; and from its own address: an answer to the pending
# query and one to nothing. Only the attacker's own packets may reach the client
# (tripline drops unmatched answers from the resolver); none opens an address.
cat >"$TL_WORK/forged_client.py" <<'PY'
import os, socket, struct, sys, time
resolver, port, out, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
qname = b"".join(bytes([len(l)]) + l for l in b"pending.test".split(b".")) + b"\0"
s.sendto(struct.pack("!6H", 0x5151, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!2H", 1, 1), (resolver, 53))
with open(out, "a") as f:
    f.write("sent\n")
    f.flush()
    s.settimeout(0.2)
    end = time.monotonic() + 8
    while time.monotonic() < end and not os.path.exists(stop):
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            continue
        # id and the last 4 bytes (the A record's address in these answers)
        f.write(f"{peer[0]} {struct.unpack('!H', data[:2])[0]} {socket.inet_ntoa(data[-4:])}\n")
        f.flush()
PY
start_bg "$NS_C" "$TL_WORK/forged-client.log" "$PY" -u "$TL_WORK/forged_client.py" \
  "$SERVER4" "$FORGED_PORT" "$TL_WORK/forged.out" "$TL_WORK/forged.stop"
FORGED_CLIENT=$BG_PID
for _ in $(seq 30); do grep -q '^sent$' "$TL_WORK/forged.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^sent$' "$TL_WORK/forged.out" 2>/dev/null || fail "4: the client did not send its pending query"
sleep 0.2
in_ns "$NS_A" "$PY" - "$SERVER4" "$ATTACKER4" "$CLIENT4" "$FORGED_PORT" <<'PY' ||
import sys
from scapy.all import conf, IP, UDP, DNS, DNSQR, DNSRR, L3RawSocket, send
resolver, attacker, client, port = sys.argv[1:]
conf.L3socket = L3RawSocket  # let the kernel route (and allow the spoofed source)
def answer(src, qid, qname, qtype, addr):
    return (IP(src=src, dst=client) / UDP(sport=53, dport=int(port)) /
            DNS(id=qid, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname=qname, qtype=qtype),
                an=DNSRR(rrname=qname, type="A", ttl=600, rdata=addr)))
for p in [answer(resolver, 4242, "forged.test", "A", "10.201.2.21"),      # no such query
          answer(resolver, 0x5151, "other.test", "A", "10.201.2.23"),     # wrong name
          answer(resolver, 0x5151, "pending.test", "AAAA", "10.201.2.24"),  # wrong type
          answer(attacker, 0x5151, "pending.test", "A", "10.201.2.26"),   # not the resolver
          answer(attacker, 4343, "untrusted.test", "A", "10.201.2.22")]:  # not the resolver
    send(p, verbose=0)
PY
  fail "4: scapy could not send the forged answers"
# The attacker's own answers pass (they open nothing); wait for them, then a
# little longer for any spoofed one that took the other queue.
got=0
for _ in $(seq 30); do
  got=$(awk -v a="$ATTACKER4" '$1 == a' "$TL_WORK/forged.out" | wc -l)
  (( got >= 2 )) && break
  sleep 0.1
done
sleep 0.5
touch "$TL_WORK/forged.stop"
rc=0
wait "$FORGED_CLIENT" || rc=$?
(( rc == 0 )) || fail "4: the client's query/listener failed (status $rc: $(cat "$TL_WORK/forged-client.log"))"
got=$(awk -v a="$ATTACKER4" '$1 == a' "$TL_WORK/forged.out" | wc -l)
(( got == 2 )) || fail "4: $got of the attacker's 2 answers from its own address reached the client: test setup broken"
spoofed=$(awk -v r="$SERVER4" '$1 == r && $3 ~ /^10\.201\.2\.2[134]$/' "$TL_WORK/forged.out")
[[ -z $spoofed ]] ||
  fail "4: answers spoofed from the resolver that match no outstanding query reached the client: $spoofed"
for a in $FORGED4 $UNTRUSTED4 $OTHER4 $WRONGTYPE4 $ATTACKER_ANS4; do
  expect_refused "$NS_C" "4: address $a from a forged answer" "http://$a/blob"
done
for n in forged.test other.test; do
  expect_event "$EV1" "4: no dns event with status unmatched for $n" \
    "e.get('event_type') == 'dns' and e.get('tripline', {}).get('dns_status') == 'unmatched' and (e['dns'].get('queries') or [{}])[0].get('rrname') == '$n'"
done
expect_event "$EV1" "4: no dns event with status unmatched for pending.test AAAA" \
  "e.get('event_type') == 'dns' and e.get('tripline', {}).get('dns_status') == 'unmatched' and (e['dns'].get('queries') or [{}])[0].get('rrname') == 'pending.test' and (e['dns'].get('queries') or [{}])[0].get('rrtype') == 'AAAA'"
for n in untrusted.test pending.test; do
  expect_event "$EV1" "4: no dns event with status untrusted for $n" \
    "e.get('event_type') == 'dns' and e.get('tripline', {}).get('dns_status') == 'untrusted' and (e['dns'].get('queries') or [{}])[0].get('rrname') == '$n'"
done
expect_event "$EV1" "4: no alert 'blocked, unresolved' for the forged address $FORGED4" "$(alert_for "$FORGED4" unresolved)"
dump_counters "$PID1" "$LOG1"
v=$(counter_value "$LOG1" dns_answers_unmatched)
(( v >= 3 )) || fail "4: counter dns_answers_unmatched = $v after 3 spoofed answers, expected >= 3"
v=$(counter_value "$LOG1" dns_answers_untrusted)
(( v >= 2 )) || fail "4: counter dns_answers_untrusted = $v after 2 answers from the attacker, expected >= 2"
log "4: forged answers dropped/ignored and counted; their addresses stay closed"

# 5. TTL + grace: short.test has TTL 2, grace is 1 s. A TCP connection opened
# right after resolving exchanges a line every 0.25 s across the expiry; a new
# connection after TTL + grace is blocked.
rm -f "$TL_WORK/held.out" "$TL_WORK/held.stop"
t0=$(date +%s%3N)
start_bg "$NS_C" "$TL_WORK/held-client.log" "$PY" -u -c '
import os, socket, sys, time
host, port, stop, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
s = socket.create_connection(addr, timeout=3)
f = s.makefile("rwb")
end = time.monotonic() + 20
i = 0
with open(out, "a") as log:
    while time.monotonic() < end:
        msg = f"ping {i}\n".encode()
        f.write(msg)
        f.flush()
        if f.readline() != msg:
            sys.exit(f"echo {i}: wrong or no answer")
        log.write(f"{time.time():.3f} {i}\n")
        log.flush()
        i += 1
        if os.path.exists(stop):
            sys.exit(0)
        time.sleep(0.25)
sys.exit("no stop signal within 20 s")
' short.test "$ECHO_PORT" "$TL_WORK/held.stop" "$TL_WORK/held.out"
HELD=$BG_PID
for _ in $(seq 30); do [[ -s $TL_WORK/held.out ]] && break; sleep 0.1; done
[[ -s $TL_WORK/held.out ]] ||
  fail "5: no echo over a connection to short.test within 3 s ($(cat "$TL_WORK/held-client.log"))"
expect_fetch "$NS_C" "5: new connection to short.test's address within its TTL" \
  "http://$SHORT4/blob" -H "Host: short.test"
now=$(date +%s%3N)
(( now - t0 < 2000 )) || fail "5: setup too slow ($(( now - t0 )) ms): the check within the TTL was not within the TTL"
sleep "$(awk -v ms=$(( t0 + 4500 - $(date +%s%3N) )) 'BEGIN {print (ms > 0 ? ms / 1000 : 0)}')"
expect_refused "$NS_C" "5: new connection to short.test's address 4.5 s after resolving (TTL 2 + grace 1)" \
  "http://$SHORT4/blob" -H "Host: short.test"
t_check=$(date +%s.%N)
after=0
for _ in $(seq 30); do
  after=$(awk -v t="$t_check" '$1 > t + 0.5' "$TL_WORK/held.out" | wc -l)
  (( after >= 2 )) && break
  sleep 0.1
done
(( after >= 2 )) || fail "5: the connection opened before expiry stopped exchanging data after it ($(cat "$TL_WORK/held-client.log"))"
touch "$TL_WORK/held.stop"
rc=0
wait "$HELD" || rc=$?
(( rc == 0 )) || fail "5: the connection opened before expiry failed (status $rc: $(cat "$TL_WORK/held-client.log"))"
expect_event "$EV1" "5: no alert 'blocked, expired' for $SHORT4" "$(alert_for "$SHORT4" expired)"
log "5: after expiry new connections are blocked; the open one exchanged $(wc -l <"$TL_WORK/held.out") lines over $(( $(date +%s%3N) - t0 )) ms"

# 6 (setup): resolve long.test (TTL 600) and use it before the restart.
got=$(dig_short "$NS_C" long.test)
[[ $got == "$LONG4" ]] || fail "6: dig long.test gave '$got', expected $LONG4"
expect_fetch "$NS_C" "6: long.test before the restart" "http://$LONG4/blob" -H "Host: long.test"

stop_and_check "$PID1" "$LOG1"
for c in dns_blocked dns_rewritten; do
  v=$(counter_value "$LOG1" "$c")
  (( v >= 1 )) || fail "3: counter $c = $v after blocked.test was resolved, expected >= 1"
done
[[ -s $TL_WORK/dns-cache.state ]] || fail "6: no DNS cache state saved at $TL_WORK/dns-cache.state on SIGTERM"

# ---------------------------------------------------------------- run 2: restart, same config
log "run 2: restart with the same state file"
# [log] stats_interval = 1: the live daemon writes EVE stats events.
expect_event "$EV1" "no stats event with counted packets" \
  "e.get('event_type') == 'stats' and e['stats']['decoder']['pkts'] > 0 and e['tripline']['stats']['dns_answers'] > 0"
dns_config "$TL_WORK/reject.toml" reject "$TL_WORK/events-2.json"
start_tripline "$TRIPLINE" "$TL_WORK/reject.toml" "$TL_WORK/tripline-2.log"
PID2=$TL_DAEMON
LOG2=$TL_WORK/tripline-2.log
EV2=$TL_WORK/events-2.json
expect_fetch "$NS_C" "6: long.test's address right after the restart, without resolving again" \
  "http://$LONG4/blob" -H "Host: long.test"
expect_fetch "$NS_C" "6: name.test's address right after the restart, without resolving again" \
  "http://$NAME4/blob" -H "Host: name.test"
dump_counters "$PID2" "$LOG2"
v=$(counter_value "$LOG2" dns_queries)
(( v == 0 )) || fail "6: tripline saw $v DNS queries after the restart; the test meant to use the restored cache only"
v=$(counter_value "$LOG2" egress_allowed)
(( v >= 2 )) || fail "6: egress_allowed = $v after the restart, expected >= 2 (long.test and name.test)"
expect_refused "$NS_C" "6: short.test's expired address after the restart" "http://$SHORT4/blob"
expect_refused "$NS_C2" "6: client2 to long.test's address (resolved by client) after the restart" "http://$LONG4/blob"
expect_refused "$NS_C" "6: literal address after the restart" "http://$LITERAL4/blob"
expect_event "$EV2" "6: no alert 'blocked, expired' for $SHORT4 after the restart" "$(alert_for "$SHORT4" expired)"
stop_and_check "$PID2" "$LOG2"
log "6: restored cache keeps long.test and name.test open; expired and other-client stay closed"

# ---------------------------------------------------------------- run 3: action drop
log "run 3: enforce, action drop"
dns_config "$TL_WORK/drop.toml" drop "$TL_WORK/events-3.json"
start_tripline "$TRIPLINE" "$TL_WORK/drop.toml" "$TL_WORK/tripline-3.log"
PID3=$TL_DAEMON
try_curl "$NS_C" --connect-timeout 2 --max-time 4 "http://$LITERAL4/blob"
(( CURL_RC == 28 )) ||
  fail "2: action drop: curl to literal $LITERAL4 ended with status $CURL_RC after $CURL_MS ms, expected 28 (timeout)"
(( CURL_MS >= 1500 && CURL_MS < 4000 )) || fail "2: action drop: curl timed out after $CURL_MS ms, expected about 2000"
expect_event "$TL_WORK/events-3.json" "2: no alert 'blocked, unresolved' for $LITERAL4 with action drop" \
  "$(alert_for "$LITERAL4" unresolved)"
expect_fetch "$NS_C" "1: name.test with action drop" http://name.test/blob
stop_and_check "$PID3" "$TL_WORK/tripline-3.log"
log "2: action drop: literal address timed out after $CURL_MS ms"

in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" down
log "PASS ($MODE) in $(( $(date +%s) - T_START )) s"
