#!/usr/bin/env bash
# A real browser behind the gateway: Debian's Chromium (headless, --no-sandbox)
# in the client namespace of a dual-stack LAN, tripline on the gw enforcing
# DNS-gated egress with the default action (reject, carried out by the contrib
# iptables rules), dnsmasq and a web server in the server namespace. The
# client asks its resolver over IPv4 only. The page loads images from names
# with an A record only, an AAAA only, both, a CNAME chain (to a name with
# both) and a name resolved ahead by <link rel=dns-prefetch>, and from two
# literal addresses (IPv4 and IPv6) no DNS answer gave. Checks that:
#   1. every named resource loads, over the family the browser prefers
#      (IPv6 where the name has an AAAA, as the web server's log shows);
#   2. every literal one fails, each within a second (a reject, not a drop);
#   3. the page's own count of loaded and failed resources (it writes it into
#      its DOM; read with --dump-dom) is 5 and 2;
#   4. the events end the refused flows at once (reason "rejected");
#   0. (first) `tripline check` warns about missing reject rules only where
#      the ruleset lacks them.
# TL_MEASURE=1 then loads a page with one literal resource with action
# "drop" and prints how long the browser waits for it (the README figure).
#   clients_browser_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: clients_browser_test.sh PATH_TO_TRIPLINE}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"

require_root_netns
[[ -x $TRIPLINE ]] || fail "no tripline binary at $TRIPLINE"
command -v chromium >/dev/null || skip "needs chromium (scripts/install-deps.sh installs it)"
for tool in dnsmasq dig; do
  command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps.sh installs it)"
done
export TZ=UTC

PAGE4=10.201.2.10 PAGE6=fd00:201:2::10   # page.test (A and AAAA)
A4=10.201.2.11                           # a4.test: A only
A6=fd00:201:2::12                        # a6.test: AAAA only
BOTH4=10.201.2.13 BOTH6=fd00:201:2::13   # both.test
TGT4=10.201.2.14 TGT6=fd00:201:2::14     # cname.test -> alias.test -> target.test
PRE4=10.201.2.15 PRE6=fd00:201:2::15     # pre.test (dns-prefetch)
LIT4=10.201.2.30 LIT6=fd00:201:2::30     # literal addresses (the server has them too)

setup_topology
ip -n "$NS_S" addr add "$PAGE4/32" dev s0
for a in $A4 $BOTH4 $TGT4 $PRE4 $LIT4; do ip -n "$NS_S" addr add "$a/32" dev s0; done
for a in $PAGE6 $A6 $BOTH6 $TGT6 $PRE6 $LIT6; do ip -n "$NS_S" addr add "$a/128" dev s0 nodad; done
# (setup_topology waited until no IPv6 address is tentative)
set_netns_resolver "$NS_C" "$SERVER4"     # the client asks over IPv4 only
log "namespaces $NS_C — $NS_G — $NS_S ready"

in_ns "$NS_G" bash "$ROOT/contrib/iptables/tripline-iptables.sh" up 0 2

start_bg "$NS_S" "$TL_WORK/dnsmasq.log" dnsmasq --keep-in-foreground --log-facility=- \
  --log-queries --conf-file=/dev/null --no-resolv --no-hosts --pid-file= --bind-interfaces \
  --listen-address="$SERVER4" --local=/test/ --local-ttl=60 \
  --host-record="page.test,$PAGE4,$PAGE6,60" --host-record="a4.test,$A4,60" \
  --host-record="a6.test,$A6,60" --host-record="both.test,$BOTH4,$BOTH6,60" \
  --host-record="target.test,$TGT4,$TGT6,60" --cname=cname.test,alias.test,60 \
  --cname=alias.test,target.test,60 --host-record="pre.test,$PRE4,$PRE6,60"
ok=0
for _ in $(seq 50); do
  [[ $(in_ns "$NS_S" dig +short +time=1 +tries=1 @"$SERVER4" cname.test 2>/dev/null | tail -1) == "$TGT4" ]] &&
    { ok=1; break; }
  sleep 0.1
done
(( ok )) || fail "dnsmasq did not answer cname.test"

sed -e "s/LITERAL4/$LIT4/" -e "s/LITERAL6/$LIT6/" "$HERE/clients_browser/page.html" >"$TL_WORK/page.html"
start_bg "$NS_S" "$TL_WORK/web.log" "$PY" "$HERE/clients_browser/server.py" "$TL_WORK/page.html" \
  "$TL_WORK/requests.txt"
ok=0
for _ in $(seq 50); do
  in_ns "$NS_S" "$PY" -c 'import socket; socket.create_connection(("::1", 80), 1)' 2>/dev/null &&
    { ok=1; break; }
  sleep 0.1
done
(( ok )) || fail "web server did not start"

# browser_config FILE NAME [ACTION]: no action key = the default.
browser_config() {
  cat >"$1" <<TOML
[queue]
first = 0
count = 2
default_verdict = "accept"
[network]
inside = ["10.201.1.0/24", "fd00:201:1::/64"]
[log]
events = "$TL_WORK/events-$2.json"
[dns]
resolvers = ["$SERVER4"]
[egress]
mode = "enforce"
TOML
  [[ -z ${3:-} ]] || printf 'action = "%s"\n' "$3" >>"$1"
}

# browse URL SECONDS OUT: headless Chromium in the client namespace, the DOM
# after the page's load event in OUT; BROWSE_MS is how long it took.
browse() {
  local url=$1 secs=$2 out=$3 profile start rc=0
  profile=$(mktemp -d "$TL_WORK/chromium.XXXXXX")
  start=$(date +%s%3N)
  in_ns "$NS_C" timeout "$secs" chromium --headless --no-sandbox --disable-gpu \
    --user-data-dir="$profile" --no-first-run --no-default-browser-check \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable \
    --dump-dom "$url" >"$out" 2>"$TL_WORK/chromium.log" || rc=$?
  BROWSE_MS=$(( $(date +%s%3N) - start ))
  rm -rf "$profile"
  return "$rc"
}

# The page's result object (JSON) from a dumped DOM.
page_result() {
  "$PY" -c '
import html, re, sys
m = re.search(r"<pre id=\"result\">(.*?)</pre>", open(sys.argv[1]).read(), re.S)
print(html.unescape(m.group(1)) if m else "{}")' "$1"
}

# ---------------------------------------------------------------- reject (default)
browser_config "$TL_WORK/reject.toml" reject
# check reads the ruleset back: quiet in the gw (contrib rules loaded), a
# warning in the client namespace (no rules at all).
in_ns "$NS_G" "$TRIPLINE" check -c "$TL_WORK/reject.toml" >"$TL_WORK/check-gw.txt" 2>&1 ||
  fail "tripline check failed"
grep -q "no rule rejects" "$TL_WORK/check-gw.txt" && fail "check warns although the contrib reject rules are loaded"
in_ns "$NS_C" "$TRIPLINE" check -c "$TL_WORK/reject.toml" >"$TL_WORK/check-client.txt" 2>&1 ||
  fail "tripline check failed"
grep -q "no rule rejects IPv4 and IPv6 packets" "$TL_WORK/check-client.txt" ||
  fail "check does not warn about missing reject rules"
log "0. check: no warning with the contrib rules, a warning without them"
start_tripline "$TRIPLINE" "$TL_WORK/reject.toml" "$TL_WORK/tripline-reject.log"

browse "http://page.test/" 60 "$TL_WORK/dom-reject.html" || fail "chromium failed or hung (rc $?)"
log "page loaded in $BROWSE_MS ms (chromium start included)"
RESULT=$(page_result "$TL_WORK/dom-reject.html")
echo "$RESULT" >"$TL_WORK/result-reject.json"
"$PY" - "$TL_WORK/result-reject.json" "$TL_WORK/requests.txt" <<'PY' || fail "page check failed (above)"
import json, sys
r = json.load(open(sys.argv[1]))
log = {}
for line in open(sys.argv[2]):
    rid, fam, _ = line.split()
    log.setdefault(rid, set()).add(fam)
named = {"a-only": "4", "aaaa-only": "6", "both": "6", "cname": "6", "prefetched": "6"}
literal = ["literal-v4", "literal-v6"]
bad = []
if r.get("loaded") != sorted(named):
    bad.append("loaded %s, expected %s" % (r.get("loaded"), sorted(named)))
if r.get("failed") != sorted(literal):
    bad.append("failed %s, expected %s" % (r.get("failed"), sorted(literal)))
for rid, fam in named.items():
    if log.get(rid) != {fam}:
        bad.append("%s came over IPv%s, expected only IPv%s" % (rid, "/".join(sorted(log.get(rid, {"none"}))), fam))
for rid in literal:
    ms = r.get("results", {}).get(rid, {}).get("ms")
    if ms is None or ms >= 1000:
        bad.append("%s failed after %s ms (expected under 1000)" % (rid, ms))
    if rid in log:
        bad.append("%s reached the server" % rid)
for b in bad:
    print("  " + b, file=sys.stderr)
print("  results: %s" % json.dumps(r.get("results")), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
log "1-3. named resources loaded over the preferred family, literal ones failed fast: $RESULT"
for lit in "$LIT4" "$LIT6"; do
  expect_event "$TL_WORK/events-reject.json" "no flow event ending the refused flow to $lit as rejected" \
    "e.get('event_type') == 'flow' and e.get('dest_ip') == '$lit' and e['flow'].get('reason') == 'rejected' and e['flow'].get('state') == 'closed'"
done
log "4. the refused flows ended at once in the events (reason rejected)"
stop_tripline "$TL_DAEMON"

# ---------------------------------------------------------------- drop (measured)
if [[ ${TL_MEASURE:-0} == 1 ]]; then
  browser_config "$TL_WORK/drop.toml" drop drop
  start_tripline "$TRIPLINE" "$TL_WORK/drop.toml" "$TL_WORK/tripline-drop.log"
  browse "http://page.test/" 300 "$TL_WORK/dom-drop.html" || log "chromium exit $? with drop"
  log "MEASURE drop: page with 2 literal resources took $BROWSE_MS ms; page: $(page_result "$TL_WORK/dom-drop.html")"
  stop_tripline "$TL_DAEMON"
fi
log "PASS"
