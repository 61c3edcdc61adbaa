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
  libopenmpi-dev openmpi-bin  # cohort-sim's ranks under mpirun (sim/mpi)
  prometheus-cpp-dev
  libtorch-dev libopenblas0-pthread
  libonnx-dev  # onnx.proto for the ONNX export (common/ml)
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  socat
  clang-14 libclang-rt-14-dev  # fuzz/: libFuzzer, ASan, UBSan (scripts/fuzz)
  prometheus  # the real-Prometheus scrape test (tests/integration)
  python3-torch  # PyTorch loads TorchScript exports and writes test modules
  python3-onnx  # onnx.checker checks ONNX exports
  nodejs  # runs ONNX Runtime (npm onnxruntime-node) on ONNX exports
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
  libonnx1  # onnx.proto (common/ml ONNX export)
  libopenmpi3  # cohort-sim (sim/mpi; mpirun itself is openmpi-bin)
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

install_apt() {
  if [ $# -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    return
  fi
  echo "install-deps: installing $*"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@"
}

# ONNX Runtime for the ONNX export checks: npm's onnxruntime-node, pinned by
# tests/testdata/onnx/package-lock.json, into that folder's node_modules.
# --ignore-scripts keeps the CPU binaries the package ships and skips its
# download of GPU libraries. Without the npm registry the install is
# reported and the ONNX Runtime tests are skipped (scripts/test says so).
install_onnxruntime() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/testdata/onnx"
  # Run from a copy of this script alone (an image's build stage): no tests.
  [ -f "$dir/package-lock.json" ] || return 0
  if node -e "require('$dir/node_modules/onnxruntime-node')" 2>/dev/null; then
    echo "install-deps: onnxruntime-node present"
    return
  fi
  # Node.js from NodeSource brings npm; Debian's own nodejs needs the package.
  if ! command -v npm >/dev/null && ! install_apt npm; then
    echo "install-deps: WARNING: no npm; the ONNX Runtime checks will be skipped" >&2
    return 0
  fi
  if ! (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    echo "install-deps: WARNING: npm could not install onnxruntime-node;" \
         "the ONNX Runtime checks will be skipped" >&2
  fi
}

install_apt "${missing[@]}"
if [ "${1:-}" != "--runtime" ]; then install_onnxruntime; fi
