#!/usr/bin/env bash
# Installs every Debian 12 package Cohort needs to build, test and run the demo.
# This is the one place that lists apt packages. Idempotent: packages already
# present are skipped, and apt is not touched at all when nothing is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev openssl zlib1g-dev libzstd-dev
  libgoogle-glog-dev libgflags-dev
  libpqxx-dev libpq-dev
  libtorch-dev libopenblas0-pthread
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  socat
  # services and data
  postgresql postgresql-client
  dataset-fashion-mnist
  # plots
  gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
