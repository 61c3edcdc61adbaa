#!/usr/bin/env bash
# Installs every Debian 12 package Cohort needs to build, test and run the demo.
# This is the one place that lists apt packages. Idempotent: packages already
# present are skipped, and apt is not touched at all when nothing is missing.
#
#   deploy/install-deps.sh            everything: build, tests, demo, images
#   deploy/install-deps.sh --runtime  only RUNTIME_PACKAGES, the shared
#                                     libraries the four binaries load (the
#                                     runtime stage of docker/Dockerfile)
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev openssl zlib1g-dev libzstd-dev
  libgoogle-glog-dev libgflags-dev
  libpqxx-dev libpq-dev
  libsystemd-dev
  libsqlite3-dev  # the on-device example store (client/examples)
  prometheus-cpp-dev
  libtorch-dev libopenblas0-pthread
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  socat
  prometheus  # the real-Prometheus scrape test (tests/integration)
  python3-torch  # PyTorch loads TorchScript exports and writes test modules
  systemd  # systemd-analyze and systemd-sysusers for scripts/check-units
  # services and data
  postgresql postgresql-client
  dataset-fashion-mnist
  # plots
  gnuplot-nox
  # images, packages and manifests (scripts/check-image, check-packages,
  # check-k8s); no Docker engine needed
  buildah podman debootstrap python3-yaml
)

# What cohort-server, cohort-agent, cohort-sim and cohortctl load at run time
# (`ldd build/bin/*` through `dpkg -S`, NEEDED entries only; apt brings the
# rest). scripts/check-image fails when one is missing from the image.
RUNTIME_PACKAGES=(
  libtorch1.13 libopenblas0-pthread
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623
  libgoogle-glog0v6 libgflags2.2
  libpq5 libpqxx-6.4
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0
  libssl3 libsystemd0 libzstd1 zlib1g
  libsqlite3-0  # cohort-agent's example store (client/examples)
)

if [ "${1:-}" = "--runtime" ]; then
  PACKAGES=("${RUNTIME_PACKAGES[@]}")
else
  PACKAGES+=("${RUNTIME_PACKAGES[@]}")
fi

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
