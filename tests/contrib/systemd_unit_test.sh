#!/usr/bin/env bash
# Checks contrib/systemd/tripline.service without systemd running as PID 1:
#   1. `systemd-analyze verify` accepts it with no warning at all (an unknown
#      key or system call group is only a warning there, so any output fails);
#   2. `systemd-analyze security --offline=yes` scores it at most 2.0, and
#      contrib/README.md states the score it has.
# The unit names /usr/bin/tripline; verify needs the binary, so a copy of the
# unit points at this build's binary instead.
#   systemd_unit_test.sh PATH_TO_TRIPLINE
set -euo pipefail
TRIPLINE=${1:?usage: systemd_unit_test.sh PATH_TO_TRIPLINE}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UNIT="$ROOT/contrib/systemd/tripline.service"
command -v systemd-analyze >/dev/null || { echo "SKIP: needs systemd-analyze" >&2; exit 77; }
[[ -x $TRIPLINE ]] || { echo "FAIL: no tripline binary at $TRIPLINE" >&2; exit 1; }
TRIPLINE=$(realpath "$TRIPLINE")
WORK=$(mktemp -d /tmp/tripline-unit.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

sed "s#/usr/bin/tripline#$TRIPLINE#g" "$UNIT" >"$WORK/tripline.service"
rc=0
out=$(systemd-analyze verify "$WORK/tripline.service" 2>&1) || rc=$?
if (( rc != 0 )) || [[ -n $out ]]; then
  echo "FAIL: systemd-analyze verify (exit $rc):" >&2
  echo "$out" >&2
  exit 1
fi

score=$(systemd-analyze security --offline=yes "$UNIT" 2>/dev/null |
        sed -n 's/.*Overall exposure level for tripline.service: \([0-9.]*\).*/\1/p')
[[ -n $score ]] || { echo "FAIL: no exposure level from systemd-analyze security" >&2; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' ||
  { echo "FAIL: systemd-analyze security exposure $score, expected <= 2.0" >&2; exit 1; }
grep -q "exposure level $score" "$ROOT/contrib/README.md" ||
  { echo "FAIL: contrib/README.md does not state the exposure level $score" >&2; exit 1; }
# The [metrics] listener (TCP on 127.0.0.1:9740 by default) needs AF_INET and
# AF_INET6 sockets and localhost reachable.
families=$(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT")
for family in AF_INET AF_INET6; do
  [[ " $families " == *" $family "* ]] ||
    { echo "FAIL: RestrictAddressFamilies lacks $family (the [metrics] listener)" >&2; exit 1; }
done
grep -q '^IPAddressAllow=.*localhost' "$UNIT" ||
  { echo "FAIL: IPAddressAllow does not allow localhost (the [metrics] listener)" >&2; exit 1; }
echo "unit verified; systemd-analyze security exposure $score"
