#!/usr/bin/env bash
# Install the Debian/Ubuntu packages ctrnet needs to build, test and benchmark.
#   scripts/install-deps.sh        the compiler, CMake, Ninja and the libraries (`make deps`)
#   scripts/install-deps.sh fuzz   those and clang with libFuzzer (scripts/run-fuzzers.sh, CI)
# Quiet when everything is present; installs what is missing as root or via passwordless sudo;
# otherwise prints the command to run and exits 1.
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config
  libeigen3-dev libxsimd-dev libtbb-dev nlohmann-json3-dev
  catch2 libbenchmark-dev libcli11-dev libopenblas-dev
)
for group in "$@"; do
  case "$group" in
    # clang-14's libFuzzer, ASan and UBSan runtimes are in libclang-rt-14-dev, which clang only
    # recommends (and --no-install-recommends skips); libclang-rt-dev pulls in the default version's.
    fuzz) packages+=(clang libclang-rt-dev) ;;
    *) echo "deps: unknown group '$group' (known: fuzz)" >&2; exit 2 ;;
  esac
done

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
