#!/usr/bin/env bash
# Installs the Debian packages named as arguments when their programs are missing.
# Used by `make setup` / `make test` and by .ci/run. Needs root or sudo.
set -euo pipefail
missing=()
for pkg in "$@"; do
  case "$pkg" in
    mosquitto) command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || missing+=("$pkg") ;;
    mosquitto-clients) command -v mosquitto_sub >/dev/null || missing+=("$pkg") ;;
    chromium) test -x /usr/bin/chromium || missing+=("$pkg") ;;
    chromium-driver) command -v chromedriver >/dev/null || missing+=("$pkg") ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
  echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
