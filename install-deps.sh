#!/usr/bin/env bash
# Installs the Debian 12 packages caf-rtm needs to build, test and run its demo;
# only those missing, so running it again is cheap. Uses sudo when not root.
set -euo pipefail

packages=(
  ca-certificates g++ make cmake
  libcaf-dev                    # CAF 0.17.6
  libboost1.81-dev              # Asio, Beast (header-only)
  libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev                    # OpenSSL 3
  catch2                        # Catch2 2.13
  clang-14 libclang-rt-14-dev   # libFuzzer (tests/run-fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
echo "installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
