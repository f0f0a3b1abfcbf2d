#!/usr/bin/env bash
# Installs the Debian 12 packages strata needs, only those missing; quick when nothing is.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  libboost-dev librocksdb-dev libsimdjson-dev libfmt-dev
  doctest-dev libbenchmark-dev
  # personal data: libsodium's XChaCha20-Poly1305 seals personal fields (crypto-shredding)
  libsodium-dev
  # messaging: nats.c for the JetStream transport, and the server the tests and samples start
  libnats-dev nats-server
  # the PostgreSQL backend (pgstore/): libpq, and the server its tests and benchmarks start on loopback
  libpq-dev postgresql
  # the `strata` command's command line (tools/)
  libcli11-dev
  # the browser test of the admin page (label browser): chromium, driven by playwright-core from npm
  chromium
  # fuzzing (scripts/fuzz.sh, the tests labelled fuzz): clang with libFuzzer and its sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm for playwright-core: any node >= 18 on the PATH will do (Debian's packages otherwise).
command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "run as root or install sudo: missing ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
