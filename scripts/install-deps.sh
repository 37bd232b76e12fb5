#!/usr/bin/env bash
# Installs every Debian 12 package tripline needs to build, test and benchmark.
# Idempotent: apt-get only runs when something is missing.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config ninja-build clang-format clang libclang-rt-14-dev git
  libnetfilter-queue-dev libmnl-dev libpcap-dev libldns-dev liblua5.4-dev
  libnetfilter-conntrack-dev conntrack  # offload: ctnetlink marks, destroy events; `conntrack` for tests
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev rapidjson-dev
  libabsl-dev libconcurrentqueue-dev libxxhash-dev nlohmann-json3-dev libsystemd-dev
  iproute2 iptables nftables dnsmasq-base curl dnsutils netcat-openbsd
  tshark python3-scapy python3 procps
  nettle-dev python3-jsonschema fever
  logrotate  # tests/contrib: contrib/logrotate/tripline checked with `logrotate -d`
  chromium  # tests/bench: the `tripline bench --report` page, drawn headless
  debhelper dpkg-dev fakeroot lintian pandoc man-db  # scripts/package.sh: the Debian package, its man pages
  prometheus-cpp-dev  # the /metrics endpoint ([metrics] listen)
  prometheus  # tests: `promtool check metrics` on a real scrape
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
