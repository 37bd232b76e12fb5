#!/usr/bin/env bash
# Demo body (see demo.sh): client — gateway — server namespaces, the contrib
# nftables rules on the gateway, `tripline run` with two queues and the shipped
# Lua trigger lua/scripts/block_telnet.lua, real TCP and UDP traffic and a
# telnet attempt, then the verdict counters, the events and the recording the
# trigger started.
set -euo pipefail
TRIPLINE=${1:?usage: demo-netns.sh PATH_TO_TRIPLINE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=tl-demo-$$
WORK=$(mktemp -d /tmp/tripline-demo.XXXXXX)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in client gw server; do ip netns del "$P-$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "network namespaces: $P-client (10.99.1.2) — $P-gw — $P-server (10.99.2.2)"
for ns in client gw server; do ip netns add "$P-$ns"; ip -n "$P-$ns" link set lo up; done
ip link add "$P-c" netns "$P-client" type veth peer name gw-c netns "$P-gw"
ip link add "$P-s" netns "$P-server" type veth peer name gw-s netns "$P-gw"
ip -n "$P-client" addr add 10.99.1.2/24 dev "$P-c"; ip -n "$P-client" link set "$P-c" up
ip -n "$P-server" addr add 10.99.2.2/24 dev "$P-s"; ip -n "$P-server" link set "$P-s" up
ip -n "$P-gw" addr add 10.99.1.1/24 dev gw-c; ip -n "$P-gw" link set gw-c up
ip -n "$P-gw" addr add 10.99.2.1/24 dev gw-s; ip -n "$P-gw" link set gw-s up
ip -n "$P-client" route add default via 10.99.1.1
ip -n "$P-server" route add default via 10.99.2.1
ip netns exec "$P-gw" sysctl -qw net.ipv4.ip_forward=1

step "gateway: queue forwarded traffic to NFQUEUE 0-1 (contrib/nftables)"
ip netns exec "$P-gw" bash "$ROOT/contrib/nftables/tripline-nft.sh" up 0 2
ip netns exec "$P-gw" nft list ruleset | sed 's/^/    /'

step "gateway: tripline run (2 queues, trigger lua/scripts/block_telnet.lua, events to $WORK/events.json)"
cat > "$WORK/tripline.toml" <<TOML
[queue]
first = 0
count = 2
[log]
events = "$WORK/events.json"
[lua]
script = "$ROOT/lua/scripts/block_telnet.lua"
[capture]
dir = "$WORK/captures"
TOML
sed 's/^/    /' "$ROOT/lua/scripts/block_telnet.lua"
ip netns exec "$P-gw" "$TRIPLINE" run -c "$WORK/tripline.toml" 2>"$WORK/tripline.log" &
TL=$!; PIDS+=("$TL")
for _ in $(seq 50); do
  ip netns exec "$P-gw" awk 'NR>0{n++} END{exit !(n>=2)}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null && break
  sleep 0.1
done

step "server: HTTP on 10.99.2.2:8080, UDP sink on :9999, a telnet-port listener on :23"
mkdir -p "$WORK/www"; echo "hello through tripline" > "$WORK/www/index.html"
ip netns exec "$P-server" python3 -m http.server 8080 --bind 10.99.2.2 --directory "$WORK/www" \
  >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$P-server" timeout 20 nc -u -l -k 10.99.2.2 9999 >"$WORK/udp.out" 2>/dev/null &
PIDS+=($!)
ip netns exec "$P-server" timeout 20 nc -l -k 10.99.2.2 23 >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

step "client: 5 HTTP requests and 20 UDP datagrams through the gateway"
for i in 1 2 3 4 5; do
  ip netns exec "$P-client" curl -s --max-time 5 "http://10.99.2.2:8080/" || echo "request $i failed"
done
for i in $(seq 20); do
  echo "datagram $i" | ip netns exec "$P-client" timeout 1 nc -u -w0 10.99.2.2 9999 || true
done
sleep 1
echo "server received $(wc -l <"$WORK/udp.out") of 20 datagrams"

step "client: telnet to 10.99.2.2:23 (the trigger drops it, alerts and records it)"
if ip netns exec "$P-client" nc -z -w 3 10.99.2.2 23; then
  echo "telnet connected: the trigger did not drop it"
else
  echo "telnet to 10.99.2.2:23 did not connect (SYNs dropped by the trigger)"
fi

step "kernel queue state (queue, portid, waiting, mode, range, queue_dropped, user_dropped, id, 1)"
ip netns exec "$P-gw" cat /proc/net/netfilter/nfnetlink_queue | sed 's/^/    /'

step "stop tripline (SIGTERM): every held packet gets its verdict; counters"
kill -TERM "$TL"; wait "$TL" || true
grep -vE '^\S+ (info|warning)' "$WORK/tripline.log" | sed 's/^/    /' || true

step "events (EVE JSON): one line per flow, and the trigger's alert"
python3 - "$WORK/events.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event_type"] == "alert":
        a = e["alert"]
        print(f'    ALERT {e["proto"]} {e["src_ip"]}:{e["src_port"]} -> {e["dest_ip"]}:{e["dest_port"]}'
              f'  "{a["signature"]}" ({a["category"]}, severity {a["severity"]}, {a["action"]})')
        continue
    f = e["flow"]
    print(f'    {e["proto"]:4} {e["src_ip"]}:{e.get("src_port","")} -> {e["dest_ip"]}:{e.get("dest_port","")}'
          f'  pkts {f["pkts_toserver"]}/{f["pkts_toclient"]}  bytes {f["bytes_toserver"]}/{f["bytes_toclient"]}'
          f'  {f["state"]:11} end={f["reason"]:8} verdict={f["action"]}')
PY

step "the recording the trigger started (opens in Wireshark)"
shopt -s nullglob
recordings=("$WORK"/captures/*.pcapng "$WORK"/captures/*.pcap)   # pcapng by default ([capture] format)
shopt -u nullglob
(( ${#recordings[@]} )) || echo "    no recording"
for f in "${recordings[@]}"; do
  echo "    ${f##*/}"
  capinfos -c -E "$f" 2>/dev/null | tail -n +2 | sed 's/^/    /'
  tshark -n -r "$f" 2>/dev/null | sed 's/^/    /'
done
step "done; namespaces removed"
