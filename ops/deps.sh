#!/usr/bin/env bash
# Installs what the project needs and is missing: Debian packages with apt-get (when
# root; otherwise prints the exact command and stops), then the npm packages of the browser tests
# (pinned by tests/web/package-lock.json). Safe to run again: it does nothing when all is here.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential pkg-config
  libevent-dev libssl-dev libhiredis-dev libjansson-dev libyajl-dev libgsl-dev zlib1g-dev
  redis-server redis-tools
  nginx-light
  nodejs npm chromium
  clang libclang-rt-14-dev
  wrk curl procps iproute2 jq python3 bc openssl logrotate
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
# A node from elsewhere (nvm, a tarball) is fine: only ask Debian for one when none runs.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"

if ((${#missing[@]})); then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root:  sudo sh -c '$cmd'" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  sh -c "$cmd" >&2
fi

# npm packages of the browser tests (playwright-core, driving Debian's chromium).
# The stamp is the lock file that the last successful npm ci installed.
if [[ -f tests/web/package-lock.json ]] && ! cmp -s tests/web/package-lock.json tests/web/node_modules/.arena-installed-lock; then
  echo "deps: npm ci in tests/web/" >&2
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.arena-installed-lock) >&2
fi
exit 0
