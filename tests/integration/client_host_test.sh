#!/usr/bin/env bash
# Client scope by host on a dual-stack LAN (real NFQUEUE queues, real kernel
# neighbour table). Namespaces: client, client2 (dual-stack, each on its own
# link) — gw (tripline, contrib iptables rules, egress enforce, action reject)
# — server (dnsmasq, HTTP). Checks that:
#   1. the client resolves a name over IPv4 and curl connects over IPv6 to its
#      AAAA at once (no other-client refusal, no fallback);
#   2. from a new (rotated temporary) IPv6 address of the same client too;
#   3. a name client2 resolved does not open its address for the client
#      (refused at once), while client2 reaches it;
#   4. with client_identity = "address" the client's IPv6 connection to the
#      name it resolved over IPv4 is refused (the behaviour before hosts).
#   client_host_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: client_host_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
for tool in dnsmasq dig curl; do
  command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps.sh installs it)"
done
export TZ=UTC

NS_C2="$TL_PREFIX-client2" CLIENT2_4=10.201.3.2 GW4_C2=10.201.3.1 CLIENT2_6=fd00:201:3::2 GW6_C2=fd00:201:3::1
TEMP6=fd00:201:1::7e57:1                 # the client's rotated temporary address
DUAL4=10.201.2.10 DUAL6=fd00:201:2::10   # dual.test: A and AAAA
OTHER6=fd00:201:2::11                    # other.test: AAAA, resolved only by client2

setup_topology
add_host "$NS_C2" gw-c2 "$GW4_C2" "$CLIENT2_4" "$GW6_C2" "$CLIENT2_6"
ip -n "$NS_S" addr add "$DUAL4/32" dev s0
for a in $DUAL6 $OTHER6; do ip -n "$NS_S" addr add "$a/128" dev s0 nodad; done
# (setup_topology and add_host waited until no IPv6 address is tentative)
log "namespaces $NS_C, $NS_C2 — $NS_G — $NS_S ready"

in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2

start_bg "$NS_S" "$TL_WORK/dnsmasq.log" dnsmasq --keep-in-foreground --log-facility=- \
  --conf-file=/dev/null --no-resolv --no-hosts --pid-file= --bind-interfaces \
  --listen-address="$SERVER4" --local=/test/ --local-ttl=60 \
  --host-record="dual.test,$DUAL4,$DUAL6,60" --host-record="other.test,$OTHER6,60"
ok=0
for _ in $(seq 50); do
  [[ $(in_ns "$NS_S" dig +short +time=1 +tries=1 @"$SERVER4" dual.test 2>/dev/null) == "$DUAL4" ]] && { ok=1; break; }
  sleep 0.1
done
(( ok )) || fail "dnsmasq did not answer dual.test"
start_http_server 80

# client_config FILE IDENTITY
client_config() {
  cat >"$1" <<TOML
[queue]
first = 0
count = 2
default_verdict = "accept"
[network]
inside = ["10.201.1.0/24", "10.201.3.0/24", "fd00:201:1::/64", "fd00:201:3::/64"]
[log]
events = "$TL_WORK/events-$2.json"
[dns]
resolvers = ["$SERVER4"]
scope = "client"
client_identity = "$2"
[egress]
mode = "enforce"
action = "reject"
TOML
}

# try_curl NS ARGS...: CURL_RC holds curl's status, CURL_MS its duration and
# CONNECT_MS how long the TCP connection took to be set up (0 if it never was).
try_curl() {
  local ns=$1 start out; shift
  CURL_RC=0
  start=$(date +%s%3N)
  out=$(in_ns "$ns" curl -s -o /dev/null -w '%{time_connect}' --connect-timeout 3 --max-time 10 "$@") ||
    CURL_RC=$?
  CURL_MS=$(( $(date +%s%3N) - start ))
  CONNECT_MS=$(awk -v t="${out:-0}" 'BEGIN {printf "%d", t * 1000}')
}
resolve_aaaa_over_v4() {  # NS NAME: asks the resolver over IPv4 for NAME's AAAA
  in_ns "$1" dig +short +time=2 +tries=1 -4 @"$SERVER4" "$2" AAAA
}

# ---------------------------------------------------------------- host
client_config "$TL_WORK/host.toml" host
"$TRIPLINE" check -c "$TL_WORK/host.toml" >"$TL_WORK/check.txt" 2>&1 || fail "tripline check failed"
grep -q "by host" "$TL_WORK/check.txt" || fail "tripline check does not say clients are hosts"
start_tripline "$TRIPLINE" "$TL_WORK/host.toml" "$TL_WORK/tripline-host.log"

[[ $(resolve_aaaa_over_v4 "$NS_C" dual.test) == "$DUAL6" ]] || fail "dual.test AAAA not resolved over IPv4"
try_curl "$NS_C" -6 "http://[$DUAL6]/blob"
(( CURL_RC == 0 )) || fail "curl over IPv6 to a name resolved over IPv4 failed ($CURL_RC)"
# At once: no refusal and fallback, no wait (a drop would cost the 3 s connect timeout).
(( CONNECT_MS < 1000 )) || fail "curl over IPv6 took $CONNECT_MS ms to connect"
log "1. IPv6 to a name resolved over IPv4: connected in $CONNECT_MS ms"

ip -n "$NS_C" addr add "$TEMP6/64" dev c0 nodad
try_curl "$NS_C" -6 --interface "$TEMP6" "http://[$DUAL6]/blob"
(( CURL_RC == 0 )) || fail "curl from a new temporary address failed ($CURL_RC)"
log "2. from the rotated temporary address $TEMP6: connected in $CONNECT_MS ms"

[[ $(resolve_aaaa_over_v4 "$NS_C2" other.test) == "$OTHER6" ]] || fail "other.test not resolved by client2"
try_curl "$NS_C" -6 "http://[$OTHER6]/blob"
(( CURL_RC != 0 )) || fail "client reached an address only client2 resolved"
(( CURL_MS < 2000 )) || fail "the refusal took $CURL_MS ms (reject is at once, not a timeout)"
try_curl "$NS_C2" -6 "http://[$OTHER6]/blob"
(( CURL_RC == 0 )) || fail "client2 could not reach the address it resolved ($CURL_RC)"
log "3. another client's resolution opens nothing for the client (refused in $CURL_MS ms)"
# From either of the client's IPv6 addresses (curl prefers the newest, the temporary one).
expect_event "$TL_WORK/events-host.json" "no other-client alert for the client" \
  "e.get('event_type') == 'alert' and e.get('dest_ip') == '$OTHER6' and e.get('src_ip') in ('$CLIENT6', '$TEMP6') and e.get('tripline', {}).get('reason') == 'other-client'"
stop_tripline "$TL_DAEMON"

# ---------------------------------------------------------------- address
client_config "$TL_WORK/address.toml" address
start_tripline "$TRIPLINE" "$TL_WORK/address.toml" "$TL_WORK/tripline-address.log"
[[ $(resolve_aaaa_over_v4 "$NS_C" dual.test) == "$DUAL6" ]] || fail "dual.test AAAA not resolved (address)"
try_curl "$NS_C" -6 "http://[$DUAL6]/blob"
(( CURL_RC != 0 )) || fail "client_identity = address let IPv6 through for an IPv4 resolution"
log "4. client_identity = \"address\": IPv6 refused ($CURL_RC)"
stop_tripline "$TL_DAEMON"
log "PASS"
