#!/usr/bin/env bash
# Builds the Debian package (debian/) from this tree, checks it with lintian
# (no errors allowed), installs it with apt-get, and checks the installed
# result: `tripline --version`, `tripline check` on the shipped configuration,
# `systemd-analyze verify` on the installed unit, the man pages, the user.
# Then purges it again, unless it was installed before or TRIPLINE_KEEP_PACKAGE=1.
#   bash scripts/package.sh [OUTDIR]   (OUTDIR keeps the .deb; default: a temporary folder)
# Needs root (apt-get). Called by scripts/test.sh as the package step of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

work=$(mktemp -d /tmp/tripline-pkg.XXXXXX)
installed_here=0
cleanup() {
  if [ "$installed_here" = 1 ] && [ "${TRIPLINE_KEEP_PACKAGE:-0}" != 1 ]; then
    apt-get purge -y -qq tripline >/dev/null || echo "package.sh: could not purge tripline" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The tree as it is now: tracked and new files, uncommitted edits included, ignored files (build trees) not.
mkdir "$work/tripline"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/tripline"
else
  tar --exclude=./build -cf - . | tar -xf - -C "$work/tripline"
fi

echo "package.sh: dpkg-buildpackage (log: $work/build.log)"
if ! (cd "$work/tripline" && DEB_BUILD_OPTIONS="parallel=2 nocheck" \
      dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1); then
  tail -n 60 "$work/build.log" >&2
  echo "package.sh: dpkg-buildpackage failed" >&2
  exit 1
fi
deb=$(ls "$work"/tripline_*.deb)
echo "package.sh: built $(basename "$deb")"

# lintian: warnings are shown, errors fail.
lintian --fail-on error --display-info "$work"/tripline_*.changes | tee "$work/lintian.log" || {
  echo "package.sh: lintian found errors" >&2; exit 1; }

if dpkg-query -W -f='${Status}' tripline 2>/dev/null | grep -q "install ok installed"; then
  echo "package.sh: a tripline package is already installed here; not replacing it (install check skipped)" >&2
  [ -n "${1:-}" ] && cp "$deb" "$1"/
  exit 0
fi
for d in /var/lib/tripline /var/log/tripline /etc/tripline; do
  if [ -e "$d" ]; then
    echo "package.sh: $d exists but no tripline package is installed; not installing over it" >&2
    exit 1
  fi
done
installed_here=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2; echo "package.sh: apt-get install failed" >&2; exit 1; }

fail() { echo "package.sh: installed package: $*" >&2; exit 1; }
want_version=$(dpkg-parsechangelog -l debian/changelog -S Version)
got=$(tripline --version) || fail "tripline --version failed"
[ "$got" = "tripline ${want_version%%-*}" ] || fail "tripline --version says '$got', the package is $want_version"
tripline check -c /etc/tripline/tripline.toml >"$work/check.log" 2>&1 ||
  { cat "$work/check.log" >&2; fail "tripline check refuses the shipped configuration"; }
unit=/lib/systemd/system/tripline.service
[ -f "$unit" ] || fail "no $unit"
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
getent passwd tripline >/dev/null || fail "no tripline user"
[ "$(stat -c %U /var/log/tripline)" = tripline ] || fail "/var/log/tripline is not owned by tripline"
for page in tripline.8 tripline.toml.5; do
  f=$(man -w "${page%.*}" "${page##*.}" 2>/dev/null | head -1) || true
  [ -n "$f" ] && [[ $(basename "$f") == "$page".gz ]] || fail "man page $page is not installed (found '$f')"
done
systemctl is-enabled tripline >/dev/null 2>&1 && fail "the unit is enabled at installation"
[ -x /usr/share/tripline/contrib/nftables/tripline-nft.sh ] || fail "contrib rules missing"
[ -f /usr/share/doc/tripline/README.md ] || fail "README missing (the unit's Documentation=)"
[ -f /etc/logrotate.d/tripline ] || fail "no /etc/logrotate.d/tripline"
logrotate -d /etc/logrotate.d/tripline >"$work/logrotate.log" 2>&1 ||
  { cat "$work/logrotate.log" >&2; fail "logrotate -d refuses /etc/logrotate.d/tripline"; }
[ -f /usr/share/tripline/grafana/tripline.json ] || fail "no Grafana dashboard"
[ -n "${1:-}" ] && cp "$deb" "$1"/
echo "package.sh: OK: $(basename "$deb") builds, lintian has no errors, installs, --version, check, unit verified"
