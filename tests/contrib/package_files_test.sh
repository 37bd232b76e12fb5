#!/usr/bin/env bash
# The files the Debian package ships, checked on every test run (the package
# itself is built and installed by scripts/package.sh, the CI's last step):
#   1. contrib/tripline.toml (installed as /etc/tripline/tripline.toml) passes
#      `tripline check` once its /var folders exist (here: moved to a temp dir);
#   2. the man pages build from contrib/man and the README sections they name,
#      and render with no error from man/groff;
#   3. every file contrib/CMakeLists.txt installs exists (a `cmake --install`
#      into a temp prefix).
# usage: package_files_test.sh TRIPLINE_BINARY BUILD_DIR
set -euo pipefail
bin=$1 build=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/tripline-pkgfiles.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# 1. The shipped configuration.
mkdir -p "$tmp/log" "$tmp/lib/capture"
sed -e "s#/var/log/tripline#$tmp/log#g" -e "s#/var/lib/tripline#$tmp/lib#g" \
  "$src/contrib/tripline.toml" >"$tmp/tripline.toml"
grep -q "$tmp/log/eve.json" "$tmp/tripline.toml" || { echo "FAIL: no events path in contrib/tripline.toml" >&2; exit 1; }
"$bin" check -c "$tmp/tripline.toml" >"$tmp/check.out" 2>&1 ||
  { cat "$tmp/check.out" >&2; echo "FAIL: tripline check refuses contrib/tripline.toml" >&2; exit 1; }

# 2. The man pages (pandoc is needed; the package build needs it too).
if ! command -v pandoc >/dev/null; then echo "SKIP: no pandoc" >&2; exit 77; fi
python3 "$src/contrib/man/make-man.py" "$tmp/man"
for page in tripline.8 tripline.toml.5; do
  out=$(LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$tmp/man/$page" 2>"$tmp/man.err") ||
    { cat "$tmp/man.err" >&2; echo "FAIL: man cannot render $page" >&2; exit 1; }
  # Layout warnings of wide tables (cannot adjust/break a line, table wider
  # than the line) are not errors; anything else is.
  if grep -v 'warning' "$tmp/man.err" | grep -v '^  table wider' | grep -q .; then
    cat "$tmp/man.err" >&2; echo "FAIL: $page renders with errors" >&2; exit 1
  fi
  case $page in
    tripline.8) want="SYNOPSIS|USING IT|FAILURE BEHAVIOUR|DEPLOY|EXIT STATUS" ;;
    *) want="CONFIGURATION|RULES|TRIGGERS AND CAPTURE|max_call_ms" ;;
  esac
  IFS='|' read -ra words <<<"$want"
  for w in "${words[@]}"; do
    grep -q "$w" <<<"$out" || { echo "FAIL: $page has no '$w'" >&2; exit 1; }
  done
done

# 3. Everything the install rules name exists (DESTDIR: nothing leaves $tmp).
DESTDIR="$tmp/root" cmake --install "$build" >"$tmp/install.out" 2>&1 ||
  { cat "$tmp/install.out" >&2; echo "FAIL: cmake --install" >&2; exit 1; }
for f in bin/tripline etc/tripline/tripline.toml systemd/system/tripline.service \
         share/tripline/contrib/nftables/tripline-nft.sh share/tripline/contrib/nftables/tripline.nft \
         share/tripline/contrib/iptables/tripline-iptables.sh share/tripline/scripts/block_telnet.lua \
         share/tripline/lists/example-hosts.txt share/tripline/eve/tripline-schema.json \
         share/doc/tripline/README.md share/doc/tripline/API.md logrotate.d/tripline \
         share/tripline/grafana/tripline.json; do
  [ -n "$(find "$tmp/root" -path "*/$f")" ] || { echo "FAIL: cmake --install did not put */$f in place" >&2; exit 1; }
done
echo "OK: shipped config checks, man pages render, install rules complete"
