#!/usr/bin/env bash
# Installs the system packages hotline needs on Debian 12, idempotently.
# Asterisk is not in bookworm; it comes from Debian 11's (security) suite with a pin at 100 so
# that nothing else is pulled from the old release by accident.
set -euo pipefail
# Suites and majors: scripts/versions.env, the one source the docker/ images are built from too.
source "$(dirname "${BASH_SOURCE[0]}")/versions.env"

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
    echo "setup-system: must run as root (or with sudo available)" >&2
    exit 1
  fi
}

# fonts-noto-cjk: Chinese text in Chromium's pages and PDFs, and the font matplotlib measures
# the reports' chart labels with (Noto Sans CJK SC; hotline/metrics/charts.py).
PACKAGES=(asterisk asterisk-core-sounds-en sip-tester espeak-ng sox maven chromium chromium-driver "postgresql-${POSTGRES_MAJOR}" fonts-noto-cjk ffmpeg redis-server)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi
need_root "$@"

src=/etc/apt/sources.list.d/hotline-${ASTERISK_SUITE}.sources
pin=/etc/apt/preferences.d/hotline-${ASTERISK_SUITE}
if [ ! -f "$src" ]; then
  cat >"$src" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${ASTERISK_SUITE}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: ${ASTERISK_SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
if [ ! -f "$pin" ]; then
  cat >"$pin" <<PIN
Package: *
Pin: release n=${ASTERISK_SUITE}
Pin-Priority: 100

Package: *
Pin: release n=${ASTERISK_SUITE}-security
Pin-Priority: 100
PIN
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup-system: installing ${missing[*]}"
apt-get update -qq
# Asterisk of the major in versions.env only (an apt version pattern, as docker/Dockerfile.asterisk).
install=()
for p in "${missing[@]}"; do
  if [ "$p" = asterisk ]; then install+=("asterisk=1:${ASTERISK_MAJOR}.*"); else install+=("$p"); fi
done
apt-get install -y -qq --no-install-recommends "${install[@]}"
# The Debian package starts a system-wide Asterisk; hotline runs its own private instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet asterisk 2>/dev/null; then
  systemctl stop asterisk || true
  systemctl disable asterisk || true
fi
# Likewise Redis: the tests and benchmarks start private redis-server instances on loopback.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl stop redis-server || true
  systemctl disable redis-server || true
fi
