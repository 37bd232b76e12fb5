#!/usr/bin/env bash
# contrib/logrotate/tripline parses (`logrotate -d`, a dry run) and, run for
# real on a copy pointed at a temporary folder, moves the log away and runs
# its postrotate (here replaced by a marker, as no tripline runs).
set -euo pipefail
command -v logrotate >/dev/null || { echo "SKIP: logrotate not installed"; exit 77; }
src="$(cd "$(dirname "$0")/../.." && pwd)/contrib/logrotate/tripline"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -v '^[[:space:]]*#' "$src" | grep -q copytruncate && { echo "FAIL: uses copytruncate"; exit 1; }
grep -q 'systemctl reload tripline.service' "$src" || { echo "FAIL: no reload in postrotate"; exit 1; }
out=$(logrotate -d -s "$work/state" "$src" 2>&1) || { echo "$out"; echo "FAIL: logrotate -d"; exit 1; }
if echo "$out" | grep -qi 'error'; then echo "$out"; echo "FAIL: logrotate -d reports an error"; exit 1; fi
# The same rules on a temporary folder, forced: the log is moved, postrotate runs once.
sed -e "s#/var/log/tripline#$work/log#" \
    -e "/postrotate/,/endscript/c\\    postrotate\\n        touch $work/hup\\n    endscript" \
    "$src" >"$work/conf"
mkdir "$work/log"
echo '{"event_type":"flow"}' >"$work/log/eve.json"
logrotate -f -s "$work/state" "$work/conf"
[ -f "$work/log/eve.json.1" ] || { ls -l "$work/log"; echo "FAIL: not rotated"; exit 1; }
[ ! -e "$work/log/eve.json" ] || { echo "FAIL: nocreate, yet a new file exists"; exit 1; }
[ -f "$work/hup" ] || { echo "FAIL: postrotate did not run"; exit 1; }
echo "OK"
