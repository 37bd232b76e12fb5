#!/usr/bin/env bash
# Offload end to end (engine/conntrack/README.md): client — gw — server
# namespaces, the contrib iptables rules (with the fast path) on the gw, one
# queue. Checks that
#   1. a long TCP flow is offloaded after its first packets (tripline judges
#      only a few of its packets) and its flow event carries the kernel's counts
#      (flow.bypass, flow.bypassed);
#   1c. a connection that sends its FIN with its request is not offloaded
#      (its last packets stay queued), unless it goes on carrying data
#      half-closed: a long answer after the client's FIN is offloaded;
#   1v. the verdict that offloads an accepted flow sends its packet back
#      through the TRIPLINE chain with the offload packet mark, and the
#      contrib save rule there copies it to the conntrack mark at once: UDP
#      and TCP ping-pong flows have (almost) no offload_late_packets, the save
#      rule counts the packets, a foreign conntrack mark bit outside the mask
#      survives; without that rule the packet comes back to the queue, and
#      tripline accepts it with its mark (offload_returned, a warning) for a
#      save rule in a later base chain (the nft template's rule, here), which
#      marks the connection; without any save rule offload still works
#      (through ctnetlink) and `tripline check` warns;
#   2. a dropped flow stays dropped once the kernel carries it;
#   3. a host recording takes the host's offloaded connections back, and
#      records them;
#   3b. a reload that changes the rules takes offloaded connections back: a
#      long session the kernel carries is judged again and dropped once a new
#      [[rule]] denies its server; a reload that changes only the event log
#      path takes nothing back;
#   4. a restart with an empty DNS cache in enforce mode keeps an established
#      TCP session working (reason "adopted") while a new connection to the
#      same address is refused;
#   5. `tripline check` warns when the fast-path rules are missing.
#   offload_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: offload_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
command -v conntrack >/dev/null || skip "no conntrack tool (apt-get install conntrack)"
export TZ=UTC
ECHO_PORT=7777
UDP_PORT=9999
UDP_ECHO_PORT=9998

setup_topology
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 1
# Closed TCP entries go at once (not after TIME_WAIT's 120 s), so destroy events come quickly.
in_ns "$NS_G" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1
in_ns "$NS_G" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close_wait=1
[[ $(in_ns "$NS_G" cat /proc/sys/net/netfilter/nf_conntrack_acct) == 1 ]] ||
  fail "contrib/iptables up did not turn on nf_conntrack_acct"
log "namespaces ready, contrib rules with the fast path loaded"

# An echo server; the client side talks to it in one connection (see session()).
start_bg "$NS_S" "$TL_WORK/echo.log" "$PY" -u -c '
import socket, threading, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$ECHO_PORT"
# A server that reads the request until the client's FIN, then answers with
# ANSWER_SEGMENTS small segments: a half-closed connection that goes on carrying data.
HALF_PORT=7778 ANSWER_SEGMENTS=300
start_bg "$NS_S" "$TL_WORK/half.log" "$PY" -u -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while c.recv(4096): pass
    for i in range(int(sys.argv[2])):
        c.sendall(b"x" * 100); time.sleep(0.002)
    c.close()
' "$HALF_PORT" "$ANSWER_SEGMENTS"
start_udp_sink "$UDP_PORT" "$TL_WORK/udp.out"
for i in $(seq 50); do
  in_ns "$NS_C" "$PY" -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)' \
    "$SERVER4" "$ECHO_PORT" 2>/dev/null && break
  sleep 0.1
done

# session ROUNDS PAUSE [OUT]: one TCP connection from the client, ROUNDS echo round trips
# PAUSE seconds apart; prints (and writes to OUT, as it goes) the number that came back intact.
session() {
  in_ns "$NS_C" "$PY" -c '
import socket, sys, time
rounds, pause = int(sys.argv[3]), float(sys.argv[4])
out = sys.argv[5] if len(sys.argv) > 5 else None
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.settimeout(3)
ok = 0
for i in range(rounds):
    msg = f"round {i}\n".encode()
    try:
        c.sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = c.recv(4096)
            if not d: break
            got += d
    except OSError:
        break
    if got != msg: break
    ok += 1
    if out: open(out, "w").write(f"{ok}\n")
    time.sleep(pause)
c.close()
print(ok)
' "$SERVER4" "$ECHO_PORT" "$@"
}

# request_with_fin PORT: one connection whose request carries the client's FIN
# (TCP_CORK, then shutdown), reading the answer to the end; prints its length.
request_with_fin() {
  in_ns "$NS_C" "$PY" -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)
c.settimeout(5)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
c.sendall(b"request\n")
c.shutdown(socket.SHUT_WR)
n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.close()
print(n)
' "$SERVER4" "$1"
}

# run_tripline NAME CONFIG: starts tripline on queue 0; pid in TL_DAEMON.
run_tripline() {
  start_bg "$NS_G" "$TL_WORK/$1.log" "$TRIPLINE" run -c "$2"
  TL_DAEMON=$BG_PID
  wait_queues_bound 1 || fail "tripline ($1) did not bind queue 0"
}

# wait_event FILE WHAT EXPR [SECONDS]: expect_event with a longer bound
# (conntrack reports ends from its garbage collector, a few seconds late).
wait_event() { expect_event "$1" "$2" "$3" "${4:-30}"; }

offload_config() {  # FILE EVENTS VERDICT [extra TOML]
  cat >"$1" <<TOML
[queue]
first = 0
count = 1
default_verdict = "$3"
[log]
events = "$2"
[offload]
enabled = true
after_packets = 2
${4:-}
TOML
}

# ------------------------------------------------- 1. a long flow is offloaded
log "phase 1: a long TCP flow goes to the kernel after its first packets"
offload_config "$TL_WORK/p1.toml" "$TL_WORK/p1.json" accept
run_tripline p1 "$TL_WORK/p1.toml"
PID=$TL_DAEMON
grep -q "offload on" "$TL_WORK/p1.log" || { sleep 0.5; grep -q "offload on" "$TL_WORK/p1.log"; } ||
  fail "tripline did not say offload is on"
ok=$(session 300 0)
(( ok == 300 )) || fail "echo session through the offloaded path: $ok of 300 round trips"
dump_counters "$PID" "$TL_WORK/p1.log"
judged=$(counter_value "$TL_WORK/p1.log" packets)
requested=$(counter_value "$TL_WORK/p1.log" offload_requested)
(( requested >= 1 )) || fail "no offload was requested (offload_requested $requested)"
# 300 round trips are at least 600 packets each way; tripline must have seen only the start.
(( judged < 150 )) || fail "tripline judged $judged packets of an offloaded flow (want < 150 of about 600)"
log "tripline judged $judged packets of a 300-round-trip session; $requested offload(s)"
# The closed connection's entry would be reaped by conntrack's garbage collector up to a
# minute later; deleting it sends the same destroy event (TCP state TIME_WAIT) at once.
sleep 0.5
in_ns "$NS_G" conntrack -D -p tcp --dport "$ECHO_PORT" >/dev/null 2>&1 || true
wait_event "$TL_WORK/p1.json" "no flow event with the kernel's counts for the offloaded session" \
  "(e['event_type'] == 'flow' and e['dest_port'] == $ECHO_PORT and e['flow'].get('bypass') == 'capture'
    and e['flow']['bypassed']['pkts_toserver'] >= 250 and e['flow']['pkts_toserver'] >= 300
    and e['flow']['pkts_toclient'] >= 300 and e['flow']['reason'] in ('fin', 'timeout'))"
stop_tripline "$PID"
(( $(counter_value "$TL_WORK/p1.log" offload_ends) >= 1 )) || fail "offload_ends is 0"
# The kernel took the socket filter that passes only marked connections' destroy events.
! grep -q 'not filtered by the kernel' "$TL_WORK/p1.log" ||
  fail "the kernel refused the destroy events' mark filter"
"$PY" "$ROOT/contrib/eve/validate-eve.py" "$TL_WORK/p1.json" >/dev/null ||
  fail "phase 1 events do not validate against the EVE schema"
log "flow event carries the kernel's counts (flow.bypassed) and validates"

# ------------------------------ 1c. closing connections, half-closed transfers
log "phase 1c: a connection that sends its FIN with its request stays queued, unless it goes on"
offload_config "$TL_WORK/p1c.toml" "" accept
run_tripline p1c "$TL_WORK/p1c.toml"
PID=$TL_DAEMON
for i in $(seq 10); do
  [[ $(request_with_fin "$ECHO_PORT") == 8 ]] || fail "request with FIN $i: no echo"
done
dump_counters "$PID" "$TL_WORK/p1c.log"
requested=$(counter_value "$TL_WORK/p1c.log" offload_requested)
(( requested == 0 )) ||
  fail "$requested of 10 connections closing with their request were offloaded (want 0)"
n=$(request_with_fin "$HALF_PORT")
(( n == ANSWER_SEGMENTS * 100 )) || fail "half-closed transfer: $n of $(( ANSWER_SEGMENTS * 100 )) bytes"
dump_counters "$PID" "$TL_WORK/p1c.log"
requested=$(counter_value "$TL_WORK/p1c.log" offload_requested)
judged=$(counter_value "$TL_WORK/p1c.log" packets)
(( requested == 1 )) || fail "the half-closed transfer was not offloaded (offload_requested $requested)"
# 10 short connections (about 7 packets each) and about 64 of the transfer's ~300.
(( judged < 200 )) || fail "tripline judged $judged packets (want < 200: the transfer's rest goes to the kernel)"
stop_tripline "$PID"
log "10 connections closing with their request stayed queued; the half-closed transfer was offloaded ($judged packets judged)"

# ------------------------- 1v. the deciding verdict carries the offload mark
log "phase 1v: the offloading verdict's packet mark is saved to the connection at once"
# A UDP echo server: one answer per datagram.
start_bg "$NS_S" "$TL_WORK/uecho.log" "$PY" -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048); s.sendto(d, a)
' "$UDP_ECHO_PORT"
# udp_pingpong SPORT ROUNDS: one UDP flow from the client, ROUNDS datagrams each answered
# before the next goes (bounded: 3 s per answer); prints the answers received.
udp_pingpong() {
  in_ns "$NS_C" "$PY" -c '
import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("0.0.0.0", int(sys.argv[3])))
c.settimeout(3)
ok = 0
for i in range(int(sys.argv[4])):
    c.sendto(f"ping {i}".encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        if c.recv(2048) == f"ping {i}".encode(): ok += 1
    except OSError:
        break
print(ok)
' "$SERVER4" "$UDP_ECHO_PORT" "$@"
}
# ct_mark PROTO SPORT: the conntrack mark of the client's connection from SPORT (decimal;
# 0 when there is none).
ct_mark() {
  local m
  m=$(in_ns "$NS_G" conntrack -L -p "$1" --sport "$2" 2>/dev/null | grep -o 'mark=[0-9]*' | head -n1 | cut -d= -f2)
  echo "${m:-0}"
}
# Packets the contrib save rule (TRIPLINE chain, IPv4) matched so far.
save_count() {
  in_ns "$NS_G" iptables -w -L TRIPLINE -v -x -n | awk '$3 == "CONNMARK" {print $1}'
}
# Another user of the conntrack mark: bit 0x1, outside [offload] mask, set on every forwarded
# packet's connection before the queue rule. Offloading must keep it.
in_ns "$NS_G" iptables -w -t mangle -I FORWARD -j CONNMARK --set-xmark 0x1/0x1
offload_config "$TL_WORK/p1v.toml" "$TL_WORK/p1v.json" accept
in_ns "$NS_G" "$TRIPLINE" check -c "$TL_WORK/p1v.toml" >"$TL_WORK/check-save.log" 2>&1 ||
  fail "tripline check failed with the rules loaded"
grep -q "no offload save rule" "$TL_WORK/check-save.log" && fail "check warned about the save rule although it is loaded"
run_tripline p1v "$TL_WORK/p1v.toml"
PID=$TL_DAEMON
saved0=$(save_count)
ok=$(udp_pingpong 41001 200)
(( ok == 200 )) || fail "UDP ping-pong through the offloaded path: $ok of 200 answers"
dump_counters "$PID" "$TL_WORK/p1v.log"
judged=$(counter_value "$TL_WORK/p1v.log" packets)
late=$(counter_value "$TL_WORK/p1v.log" offload_late_packets)
with=$(counter_value "$TL_WORK/p1v.log" offload_with_verdict)
saved=$(( $(save_count) - saved0 ))
(( with == 1 )) || fail "the offloading verdict did not carry the mark (offload_with_verdict $with, want 1)"
(( saved == 1 )) || fail "the save rule matched $saved packets (want 1: the deciding verdict's)"
# The deciding packet's verdict set the mark before its answer could go: nothing came late.
(( late == 0 )) || fail "UDP ping-pong: $late packets queued after the offload (want 0)"
(( judged <= 6 )) || fail "tripline judged $judged of 400 packets of an offloaded UDP flow"
(( $(ct_mark udp 41001) == 0x10000001 )) ||
  fail "conntrack mark $(ct_mark udp 41001), want 0x10000001 (offload bit saved, foreign bit 0x1 kept)"
log "UDP: $judged of 400 packets judged, none late; the save rule set mark 0x10000001 (0x1 kept)"
# TCP echo: the deciding packet may have a packet right behind it (an ACK and data of the
# same side), so a late packet or two may come, not more.
session 300 0.005 "$TL_WORK/p1v.rounds" >"$TL_WORK/p1v.ok" &
SESSION=$!
for i in $(seq 50); do [[ $(cat "$TL_WORK/p1v.rounds" 2>/dev/null || echo 0) -ge 50 ]] && break; sleep 0.1; done
tcp_sport=$(in_ns "$NS_G" conntrack -L -p tcp --dport "$ECHO_PORT" 2>/dev/null | grep ESTABLISHED |
  grep -o 'sport=[0-9]*' | head -n1 | cut -d= -f2)
[[ -n $tcp_sport ]] || fail "no established conntrack entry for the TCP session"
(( $(ct_mark tcp "$tcp_sport") == 0x10000001 )) ||
  fail "TCP conntrack mark $(ct_mark tcp "$tcp_sport"), want 0x10000001"
wait "$SESSION" || true
(( $(cat "$TL_WORK/p1v.ok") == 300 )) || fail "TCP session: $(cat "$TL_WORK/p1v.ok") of 300 round trips"
dump_counters "$PID" "$TL_WORK/p1v.log"
late=$(counter_value "$TL_WORK/p1v.log" offload_late_packets)
with=$(counter_value "$TL_WORK/p1v.log" offload_with_verdict)
(( with == 2 )) || fail "offload_with_verdict $with after the TCP session, want 2"
(( late <= 2 )) || fail "TCP session: $late packets queued after the offload (want at most 2)"
log "TCP: offloaded with the verdict, $late late packet(s), mark 0x10000001"

# Without the save rule in the TRIPLINE chain, the offloading verdict's packet comes back to
# the queue with the mark: tripline accepts it so (once per flow, counted, a warning) for a
# save rule in a later base chain. Here the nft template's rule, in a forward chain of its own
# after iptables' one (tripline.nft without its queue rule, which this kernel may lack, at a
# later priority, a counter added to read it).
in_ns "$NS_G" iptables -w -D TRIPLINE -m mark --mark 0x10000000/0x30000000 \
  -j CONNMARK --save-mark --nfmask 0x30000000 --ctmask 0x30000000
in_ns "$NS_G" iptables -w -D TRIPLINE -m mark --mark 0x10000000/0x30000000 -j ACCEPT
sed -e 's/^\t\tcounter queue flags bypass to \$TL_QUEUES$/\t\tcounter/' \
    -e 's/ ct mark set ct mark / counter ct mark set ct mark /' \
    -e 's/type filter hook forward priority filter;/type filter hook forward priority filter + 10;/' \
  "$ROOT/contrib/nftables/tripline.nft" >"$TL_WORK/tripline-noqueue.nft"
grep -q "counter ct mark set" "$TL_WORK/tripline-noqueue.nft" || fail "no save rule in contrib/nftables/tripline.nft"
grep -q "priority filter + 10" "$TL_WORK/tripline-noqueue.nft" || fail "no forward chain in contrib/nftables/tripline.nft"
in_ns "$NS_G" nft -D TL_QUEUES=0 -D TL_REJECT_MARK=0x7470 -f "$TL_WORK/tripline-noqueue.nft" ||
  fail "contrib/nftables/tripline.nft (without its queue rule) does not load"
dump_counters "$PID" "$TL_WORK/p1v.log"
returned0=$(counter_value "$TL_WORK/p1v.log" offload_returned)
(( returned0 == 0 )) || fail "offload_returned $returned0 with the save rule in the TRIPLINE chain (want 0)"
ok=$(udp_pingpong 41002 100)
(( ok == 100 )) || fail "UDP ping-pong with the save rule in a later chain: $ok of 100 answers"
dump_counters "$PID" "$TL_WORK/p1v.log"
returned=$(counter_value "$TL_WORK/p1v.log" offload_returned)
(( returned == 1 )) || fail "offload_returned $returned after one offloaded flow came back (want 1)"
grep -q "an offloaded packet came back" "$TL_WORK/p1v.log" ||
  fail "no warning about the offloaded packet that came back"
nft_saved=$(in_ns "$NS_G" nft list chain inet tripline forward | grep 'ct mark set' |
  grep -o 'counter packets [0-9]*' | awk '{print $3}')
(( ${nft_saved:-0} == 1 )) || fail "the nft save rule matched ${nft_saved:-no} packets (want 1)"
(( $(ct_mark udp 41002) == 0x10000001 )) || fail "nft save: conntrack mark $(ct_mark udp 41002), want 0x10000001"
in_ns "$NS_G" "$TRIPLINE" check -c "$TL_WORK/p1v.toml" >"$TL_WORK/check-nft.log" 2>&1 || fail "check failed"
grep -q "no offload save rule" "$TL_WORK/check-nft.log" ||
  fail "check did not warn about a save rule that is not before the queue rule"
in_ns "$NS_G" nft delete table inet tripline
log "save rule in a later chain: the packet came back once (offload_returned 1, a warning), the nft rule saved the mark"

# No save rule at all: the verdict still carries the mark, nothing copies it; ctnetlink
# marks the connection a little later, and offload works all the same.
in_ns "$NS_G" "$TRIPLINE" check -c "$TL_WORK/p1v.toml" >"$TL_WORK/check-nosave.log" 2>&1 || fail "check failed"
grep -q "no offload save rule" "$TL_WORK/check-nosave.log" || fail "check did not warn without the save rule"
grep -q "no fast-path rule" "$TL_WORK/check-nosave.log" && fail "check warned about the fast path, which is there"
dump_counters "$PID" "$TL_WORK/p1v.log"
before=$(counter_value "$TL_WORK/p1v.log" packets)
req0=$(counter_value "$TL_WORK/p1v.log" offload_requested)
ok=$(udp_pingpong 41003 200)
(( ok == 200 )) || fail "UDP ping-pong without the save rule: $ok of 200 answers"
dump_counters "$PID" "$TL_WORK/p1v.log"
judged=$(( $(counter_value "$TL_WORK/p1v.log" packets) - before ))
(( $(counter_value "$TL_WORK/p1v.log" offload_requested) == req0 + 1 )) || fail "no offload without the save rule"
(( judged < 100 )) || fail "without the save rule tripline judged $judged of 400 packets (want < 100)"
(( $(ct_mark udp 41003) == 0x10000001 )) ||
  fail "ctnetlink offload: conntrack mark $(ct_mark udp 41003), want 0x10000001 (foreign bit kept)"
stop_tripline "$PID"
log "without a save rule: offloaded through ctnetlink, $judged of 400 packets judged, mark 0x10000001"
in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 1   # the save rule again
in_ns "$NS_G" iptables -w -t mangle -D FORWARD -j CONNMARK --set-xmark 0x1/0x1

# ------------------------------------------- 2. a dropped flow stays dropped
log "phase 2: a dropped flow stays dropped once the kernel carries it"
offload_config "$TL_WORK/p2.toml" "$TL_WORK/p2.json" drop
run_tripline p2 "$TL_WORK/p2.toml"
PID=$TL_DAEMON
send_udp "$SERVER4" "$UDP_PORT" 1 100 drop2
sleep 1
got=$(count_received "$TL_WORK/udp.out" drop2 1 1)
(( got == 0 )) || fail "$got datagrams of a dropped flow arrived"
dump_counters "$PID" "$TL_WORK/p2.log"
judged=$(counter_value "$TL_WORK/p2.log" packets)
(( judged < 30 )) || fail "tripline judged $judged of 100 datagrams of a dropped flow (want < 30)"
in_ns "$NS_G" conntrack -L -p udp --dport "$UDP_PORT" 2>/dev/null | grep -q "mark=536870912" ||
  fail "no conntrack entry with the drop mark for the dropped flow"
stop_tripline "$PID"
log "dropped flow: $judged of 100 datagrams judged, none arrived, conntrack entry carries the drop mark"

# ------------------------------------- 3. a host recording takes flows back
log "phase 3: a host recording takes the host's offloaded connections back"
mkdir -p "$TL_WORK/cap"
offload_config "$TL_WORK/p3.toml" "$TL_WORK/p3.json" accept "
[capture]
dir = \"$TL_WORK/cap\"
[[rule]]
name = \"record-host\"
match = { proto = \"udp\", port = $UDP_PORT }
action = [\"alert\", \"capture\", \"accept\"]
capture = { scope = \"host\", seconds = 30 }"
run_tripline p3 "$TL_WORK/p3.toml"
PID=$TL_DAEMON
saved3=$(save_count)
session 400 0.02 "$TL_WORK/p3.rounds" >"$TL_WORK/p3.ok" &
SESSION=$!
for i in $(seq 50); do [[ $(cat "$TL_WORK/p3.rounds" 2>/dev/null || echo 0) -ge 50 ]] && break; sleep 0.1; done
dump_counters "$PID" "$TL_WORK/p3.log"
(( $(counter_value "$TL_WORK/p3.log" offload_requested) >= 1 )) || fail "phase 3 session not offloaded"
before=$(counter_value "$TL_WORK/p3.log" packets)
send_udp "$SERVER4" "$UDP_PORT" 1 3 rec3   # a later flow of the same host starts the recording
wait "$SESSION" || true
ok=$(cat "$TL_WORK/p3.ok")
(( ok == 400 )) || fail "session taken back mid-way: $ok of 400 round trips"
dump_counters "$PID" "$TL_WORK/p3.log"
back=$(counter_value "$TL_WORK/p3.log" offload_taken_back)
after=$(counter_value "$TL_WORK/p3.log" packets)
(( back >= 1 )) || fail "no connection taken back (offload_taken_back 0)"
(( after - before > 100 )) || fail "taken back, but only $(( after - before )) more packets reached tripline"
# Only offloading verdicts carry the offload packet mark: the taken-back session's packets
# pass the save rule unmarked (else it would mark the connection again and they would
# not come back).
with=$(counter_value "$TL_WORK/p3.log" offload_with_verdict)
(( with >= 1 && $(save_count) - saved3 == with )) ||
  fail "the save rule matched $(( $(save_count) - saved3 )) packets, offload_with_verdict is $with"
stop_tripline "$PID"
pcap=$(ls "$TL_WORK"/cap/* 2>/dev/null | head -n1)
[[ -n $pcap ]] || fail "no capture file"
n=$(tshark -r "$pcap" -Y "tcp.port == $ECHO_PORT" 2>/dev/null | wc -l)
(( n > 100 )) || fail "the host recording holds only $n packets of the taken-back session"
log "taken back: $back connection(s); $(( after - before )) more packets judged, $n recorded"

# ------------------------ 3b. a reload that changes the rules takes flows back
log "phase 3b: a reload that denies the server takes its offloaded session back and drops it"
p3b_config() {  # EVENTS [extra TOML]
  offload_config "$TL_WORK/p3b.toml" "$1" accept "
[[rule]]
name = \"no-telnet\"
match = { port = 23 }
action = \"drop\"
${2:-}"
}
# reloaded LOG N: waits (bounded) until LOG holds N "reload applied" lines.
reloaded() {
  local i
  for i in $(seq 50); do
    (( $(grep -c "reload applied" "$1" || true) >= $2 )) && return 0
    sleep 0.1
  done
  fail "tripline did not apply reload $2 (see $1)"
}
p3b_config "$TL_WORK/p3b.json"
run_tripline p3b "$TL_WORK/p3b.toml"
PID=$TL_DAEMON
session 1000 0.02 "$TL_WORK/p3b.rounds" >"$TL_WORK/p3b.ok" &
SESSION=$!
rounds() { cat "$TL_WORK/p3b.rounds" 2>/dev/null || echo 0; }
for i in $(seq 50); do (( $(rounds) >= 50 )) && break; sleep 0.1; done
dump_counters "$PID" "$TL_WORK/p3b.log"
(( $(counter_value "$TL_WORK/p3b.log" offload_requested) >= 1 )) || fail "phase 3b session not offloaded"
before=$(counter_value "$TL_WORK/p3b.log" packets)
at=$(rounds)
for i in $(seq 50); do (( $(rounds) >= at + 100 )) && break; sleep 0.1; done
dump_counters "$PID" "$TL_WORK/p3b.log"
judged=$(( $(counter_value "$TL_WORK/p3b.log" packets) - before ))
(( $(rounds) >= at + 100 && judged < 20 )) ||
  fail "the offloaded session is not carried by the kernel: $judged packets judged in $(( $(rounds) - at )) round trips"
# Only the event log path changes: nothing is taken back.
p3b_config "$TL_WORK/p3b-2.json"
kill -HUP "$PID"
reloaded "$TL_WORK/p3b.log" 1
dump_counters "$PID" "$TL_WORK/p3b.log"
(( $(counter_value "$TL_WORK/p3b.log" offload_taken_back) == 0 )) ||
  fail "a reload that changed only the event log path took flows back"
(( $(counter_value "$TL_WORK/p3b.log" flows_rejudged) == 0 )) ||
  fail "a reload that changed only the event log path judged flows again"
# A new rule denies the server: the session is taken back, judged again and dropped.
p3b_config "$TL_WORK/p3b-2.json" "
[[rule]]
name = \"deny-server\"
match = { dst = [\"$SERVER4\"] }
action = \"drop\""
at=$(rounds)
kill -HUP "$PID"
reloaded "$TL_WORK/p3b.log" 2
wait "$SESSION" || true
ok=$(cat "$TL_WORK/p3b.ok")
(( ok < 1000 && ok <= at + 5 )) ||
  fail "the session went on after the reload denied its server: $ok round trips (reload at $at)"
dump_counters "$PID" "$TL_WORK/p3b.log"
back=$(counter_value "$TL_WORK/p3b.log" offload_taken_back)
rejudged=$(counter_value "$TL_WORK/p3b.log" flows_rejudged)
denied=$(counter_value "$TL_WORK/p3b.log" rule.deny-server)
(( back >= 1 )) || fail "no connection taken back on reload (offload_taken_back 0)"
(( rejudged >= 1 )) || fail "no open flow judged again on reload (flows_rejudged 0)"
(( denied >= 1 )) || fail "the new rule judged no flow (rule.deny-server 0)"
grep -q "open flows judged again ([1-9][0-9]* taken back from the kernel)" "$TL_WORK/p3b.log" ||
  fail "the reload's log line does not say what it took back"
wait_event "$TL_WORK/p3b-2.json" "no flow event of the session dropped by the new rule" \
  "(e['event_type'] == 'flow' and e['dest_port'] == $ECHO_PORT and e['flow']['reason'] == 'dropped'
    and e['tripline']['verdict_reason'] == 'rule:deny-server')" 5
# The dropped connection goes back to the kernel, now with the drop mark.
in_ns "$NS_G" conntrack -L -p tcp --dport "$ECHO_PORT" 2>/dev/null | grep -q "mark=536870912" ||
  fail "the dropped session's conntrack entry does not carry the drop mark"
stop_tripline "$PID"
"$PY" "$ROOT/contrib/eve/validate-eve.py" "$TL_WORK/p3b-2.json" >/dev/null ||
  fail "phase 3b events do not validate against the EVE schema"
log "reload: session taken back after $at round trips ($back taken back, $rejudged judged again), dropped by the new rule"

# ------------------------------- 4. a restart keeps established connections
log "phase 4: restart with an empty DNS cache keeps an established session"
cat >"$TL_WORK/p4a.toml" <<TOML
[queue]
first = 0
count = 1
[log]
events = "$TL_WORK/p4.json"
TOML
cat >"$TL_WORK/p4b.toml" <<TOML
[queue]
first = 0
count = 1
[log]
events = "$TL_WORK/p4.json"
[network]
inside = ["10.201.1.0/24", "fd00:201:1::/64"]
[dns]
resolvers = ["10.201.2.53"]   # not the server: traffic to a resolver is allowed
[egress]
mode = "enforce"
TOML
run_tripline p4a "$TL_WORK/p4a.toml"
PID=$TL_DAEMON
session 60 0.1 "$TL_WORK/p4.rounds" >"$TL_WORK/p4.ok" &
SESSION=$!
for i in $(seq 50); do [[ $(cat "$TL_WORK/p4.rounds" 2>/dev/null || echo 0) -ge 10 ]] && break; sleep 0.1; done
stop_tripline "$PID"
run_tripline p4b "$TL_WORK/p4b.toml"
PID=$TL_DAEMON
grep -q "adopting [1-9][0-9]* established connections" "$TL_WORK/p4b.log" ||
  fail "the restarted tripline adopted no connection"
# A new connection to the same address: unresolved, refused.
new=$(session 1 0 2>/dev/null || echo 0)
(( new == 0 )) || fail "a new connection to an unresolved address got through in enforce mode"
wait "$SESSION" || true
ok=$(cat "$TL_WORK/p4.ok")
(( ok == 60 )) || fail "the established session broke across the restart: $ok of 60 round trips"
stop_tripline "$PID"
(( $(counter_value "$TL_WORK/p4b.log" adopted) >= 1 )) || fail "adopted counter is 0"
wait_event "$TL_WORK/p4.json" "no flow event with reason adopted" \
  "e['event_type'] == 'flow' and e['tripline']['verdict_reason'] == 'adopted'" 3
log "session survived the restart (adopted); a new connection was refused"

# -------------------------------------------- 5. check warns without the rules
log "phase 5: tripline check warns when the fast-path rules are missing"
in_ns "$NS_G" "$TRIPLINE" check -c "$TL_WORK/p1.toml" >"$TL_WORK/check-with.log" 2>&1 ||
  fail "tripline check failed with the rules loaded"
grep -q "no fast-path rule" "$TL_WORK/check-with.log" && fail "check warned although the rules are loaded"
grep -q "no offload save rule" "$TL_WORK/check-with.log" && fail "check warned about the save rule although it is loaded"
for ipt in iptables ip6tables; do
  in_ns "$NS_G" $ipt -w -D TRIPLINE -m connmark --mark 0x10000000/0x30000000 -j ACCEPT
done
in_ns "$NS_G" "$TRIPLINE" check -c "$TL_WORK/p1.toml" >"$TL_WORK/check-without.log" 2>&1 ||
  fail "tripline check failed without the rules"
grep -q "no fast-path rule" "$TL_WORK/check-without.log" || fail "check did not warn without the fast-path rule"
log "check: quiet with the rules, warns without"

# ------------------------------------------- 6. no conntrack access: said at start
# Without CAP_NET_ADMIN conntrack cannot be reached (nor can the queues be bound, so this
# run then stops; with the capability but no nf_conntrack_netlink it goes on without offload).
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  chmod 755 "$TL_WORK"; chmod 644 "$TL_WORK/p1.toml"
  in_ns "$NS_G" timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
    --bounding-set=-all "$TRIPLINE" run -c "$TL_WORK/p1.toml" >"$TL_WORK/p6.log" 2>&1 || true
  grep -q "offload is off: conntrack is not reachable" "$TL_WORK/p6.log" ||
    fail "no clear message when conntrack cannot be reached (see $TL_WORK/p6.log)"
  log "without conntrack access tripline says: $(grep -o 'offload is off: .*' "$TL_WORK/p6.log" | head -n1)"
fi
log "PASS"
