#!/usr/bin/env bash
# Install the Debian/Ubuntu packages ctrnet needs to build, test and benchmark.
# Quiet when everything is present; installs what is missing as root or via passwordless sudo;
# otherwise prints the command to run and exits 1.
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config
  libeigen3-dev libxsimd-dev libtbb-dev nlohmann-json3-dev
  catch2 libbenchmark-dev libcli11-dev libopenblas-dev
)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: dpkg not found; this script supports Debian/Ubuntu only. Needed: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  # `dpkg -s` also succeeds for removed-but-not-purged packages; require status "install ok installed".
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all present"
  exit 0
fi

echo "deps: missing: ${missing[*]}"
install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [ "$(id -u)" -eq 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "deps: not root and no passwordless sudo. Run as root:" >&2
  echo "  sudo sh -c '${install_cmd}'" >&2
  exit 1
fi
echo "deps: installed ${missing[*]}"
