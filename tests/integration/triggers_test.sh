#!/usr/bin/env bash
# End-to-end test of Lua triggers and conditional capture on real NFQUEUE
# queues (client — gw — server, contrib iptables rules on the gw):
#   1. the shipped lua/scripts/block_telnet.lua drops TCP 2323 (curl times
#      out), writes an alert event, and records the attempt to a pcapng file
#      that capinfos/tshark read as raw IP holding only that flow's SYNs, with
#      a section comment naming the trigger, packet comments on the dropped
#      SYNs, and the server's name (resolved through dnsmasq, the trusted
#      resolver) from the file's name resolution block; HTTP on 8080 passes
#      intact;
#   2. a runaway script (endless loop) is cut off by its instruction budget:
#      traffic keeps flowing with the default verdict and the overruns are
#      counted;
# and every queued packet got its verdict.
#   triggers_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: triggers_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
for tool in curl capinfos tshark dnsmasq dig; do
  command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps.sh installs it)"
done
export TZ=UTC
HTTP_PORT=8080
TELNET_PORT=2323

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2
start_http_server "$HTTP_PORT"
# Something listening on the telnet port, so only tripline can make it fail.
start_bg "$NS_S" "$TL_WORK/telnet.log" "$PY" -m http.server "$TELNET_PORT" --bind :: \
  --directory "$TL_WORK/www"
# The trusted resolver: the client reaches the telnet server by name, so the
# DNS cache knows it and the recording can name it.
start_bg "$NS_S" "$TL_WORK/dnsmasq.log" dnsmasq --keep-in-foreground --log-facility=- \
  --conf-file=/dev/null --no-resolv --no-hosts --pid-file= --bind-interfaces \
  --listen-address="$SERVER4" --local=/test/ --host-record="telnet.test,$SERVER4,60"
set_netns_resolver "$NS_C" "$SERVER4"
ok=0
for _ in $(seq 50); do
  [[ $(in_ns "$NS_S" dig +short +time=1 +tries=1 @"$SERVER4" telnet.test 2>/dev/null) == "$SERVER4" ]] &&
    { ok=1; break; }
  sleep 0.1
done
(( ok )) || fail "dnsmasq did not answer telnet.test in the server namespace"

# ---------------------------------------------------------------- block_telnet.lua
log "phase 1: block_telnet.lua with capture"
CAPDIR="$TL_WORK/captures"
write_config "$TL_WORK/telnet.toml" accept "$TL_WORK/events.json"
cat >>"$TL_WORK/telnet.toml" <<TOML
[dns]
resolvers = ["$SERVER4"]
[lua]
script = "$ROOT/lua/scripts/block_telnet.lua"
[capture]
dir = "$CAPDIR"
TOML
start_tripline "$TRIPLINE" "$TL_WORK/telnet.toml" "$TL_WORK/tripline-telnet.log"
PID=$TL_DAEMON

ok=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 5)
(( ok == 5 )) || fail "HTTP with the trigger loaded: $ok of 5 downloads complete"
rc=0
in_ns "$NS_C" curl -s --max-time 3 -o /dev/null "http://telnet.test:$TELNET_PORT/" || rc=$?
(( rc == 28 )) || fail "TCP $TELNET_PORT: curl exit $rc, expected 28 (timeout: SYNs dropped)"
log "HTTP 5/5 intact; TCP $TELNET_PORT dropped (curl timed out)"
expect_event "$TL_WORK/events.json" "no blocked telnet alert" \
  "e.get('event_type') == 'alert' and e['alert']['action'] == 'blocked' and e['alert']['signature'] == 'telnet to $SERVER4' and e['dest_port'] == $TELNET_PORT"

queued=$(check_queue_table)
stop_tripline "$PID"
LOG="$TL_WORK/tripline-telnet.log"
judged=$(counter_value "$LOG" packets)
(( judged == queued )) || fail "kernel queued $queued packets, tripline judged $judged"
(( $(counter_value "$LOG" lua_errors) == 0 )) || fail "lua errors with the shipped script"
(( $(counter_value "$LOG" capture_sessions_started) == 1 )) || fail "expected one capture session"

mapfile -t files < <(find "$CAPDIR" -name 'tripline-*' | sort)
(( ${#files[@]} == 1 )) || fail "expected one capture file, found ${#files[@]}: ${files[*]:-}"
[[ ${files[0]} == */tripline-*-w?-s1-telnet.pcapng ]] || fail "unexpected capture name ${files[0]}"
read -r _ encap count < <(capinfos -T -r -E -c "${files[0]}")
[[ $encap == rawip ]] || fail "capture encapsulation $encap, expected rawip"
(( count >= 2 )) || fail "capture holds $count packets; expected the SYN and its retransmissions"
other=$(tshark -n -r "${files[0]}" -Y "!(ip.src == $CLIENT4 && tcp.dstport == $TELNET_PORT && tcp.flags == 0x0002)" \
          2>/dev/null | wc -l)
(( other == 0 )) || fail "capture holds $other packets that are not the client's SYNs to $TELNET_PORT"
log "capture ${files[0]##*/}: $count SYNs, raw IP, read by capinfos and tshark"
# The recording explains itself (pcapng): why it exists, which packet started
# it and what became of it, and the server's name from the file alone.
WS_CONF="$TL_WORK/wireshark-conf"
mkdir -p "$WS_CONF"
section=$(WIRESHARK_CONFIG_DIR=$WS_CONF capinfos -k "${files[0]}")
for want in "trigger: lua block_telnet.lua" "label: telnet" \
            "scope: flow $CLIENT4:" "limits: 30 s, 100 packets" "tripline 0.1.0 recording"; do
  [[ $section == *"$want"* ]] || fail "section comment lacks '$want': $section"
done
mapfile -t comments < <(WIRESHARK_CONFIG_DIR=$WS_CONF tshark -n -r "${files[0]}" -T fields \
                          -e frame.comment 2>/dev/null)
[[ ${comments[0]} == "trigger packet: lua block_telnet.lua; label: telnet; signature: telnet to $SERVER4; verdict: drop; reason: lua" ]] ||
  fail "first packet's comment: '${comments[0]}'"
for c in "${comments[@]:1}"; do
  [[ $c == "verdict: drop; reason: lua" ]] || fail "a retransmitted SYN's comment: '$c'"
done
names=$(WIRESHARK_CONFIG_DIR=$WS_CONF HOME=$WS_CONF tshark -r "${files[0]}" -N n \
          -o nameres.use_external_name_resolver:FALSE -o nameres.dns_pkt_addr_resolution:FALSE \
          -o nameres.hosts_file_handling:TRUE -T fields -e ip.dst_host 2>/dev/null | sort -u)
[[ $names == telnet.test ]] || fail "host names from the recording: '$names', expected telnet.test"
log "recording: section comment, ${#comments[@]} packet comments, $SERVER4 shown as telnet.test from the file"
# The trigger's alert names the recording it started (EVE capture_file).
expect_event "$TL_WORK/events.json" "the blocked telnet alert does not name ${files[0]}" \
  "e.get('event_type') == 'alert' and e['alert']['action'] == 'blocked' and e.get('capture_file') == '${files[0]}'"

# ---------------------------------------------------------------- runaway script
log "phase 2: a runaway script cannot stall traffic"
cat >"$TL_WORK/runaway.lua" <<'LUA'
function on_flow(f)
  while true do end
end
LUA
write_config "$TL_WORK/runaway.toml" accept "$TL_WORK/events-runaway.json"
cat >>"$TL_WORK/runaway.toml" <<TOML
[lua]
script = "$TL_WORK/runaway.lua"
budget = 100000
max_consecutive_errors = 1000000
TOML
start_tripline "$TRIPLINE" "$TL_WORK/runaway.toml" "$TL_WORK/tripline-runaway.log"
PID=$TL_DAEMON
ok=$(http_fetches "http://$SERVER4:$HTTP_PORT/blob" 5)
(( ok == 5 )) || fail "runaway script: $ok of 5 downloads complete"
queued=$(check_queue_table)
stop_tripline "$PID"
LOG="$TL_WORK/tripline-runaway.log"
over=$(counter_value "$LOG" lua_budget_exceeded)
(( over >= 5 )) || fail "runaway script: only $over budget overruns counted"
(( $(counter_value "$LOG" packets) == queued )) || fail "runaway script: not every queued packet judged"
log "runaway script: 5/5 downloads with the default verdict, $over budget overruns counted"
log "PASS"
