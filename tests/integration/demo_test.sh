#!/usr/bin/env bash
# Runs the quick-start demo body (scripts/demo-netns.sh) and checks that what
# it shows happened: HTTP answered, the datagrams arrived, the telnet attempt
# was dropped and alerted, and the recording holds its SYNs.
#   demo_test.sh PATH_TO_TRIPLINE
set -uo pipefail
TRIPLINE=${1:?usage: demo_test.sh PATH_TO_TRIPLINE}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ $(id -u) == 0 ]] || { echo "skip: needs root"; exit 77; }
out=$(timeout 120 bash "$ROOT/scripts/demo-netns.sh" "$TRIPLINE" 2>&1)
rc=$?
printf '%s\n' "$out"
fail() { echo "FAIL: $*" >&2; exit 1; }
(( rc == 0 )) || fail "demo exited with status $rc"
[[ $(grep -c "hello through tripline" <<<"$out") == 5 ]] || fail "not every HTTP request was answered"
grep -q "server received 20 of 20 datagrams" <<<"$out" || fail "UDP datagrams lost"
grep -q "did not connect (SYNs dropped by the trigger)" <<<"$out" || fail "telnet was not dropped"
grep -q 'ALERT TCP .*"telnet to 10.99.2.2" (policy, severity 2, blocked)' <<<"$out" || fail "no alert"
grep -q "File encapsulation:  Raw IP" <<<"$out" || fail "no raw-IP recording"
grep -Eq "Number of packets: +[1-9]" <<<"$out" || fail "empty recording"
echo "PASS"
