# Finds every third-party package once. Torch is found here but linked only by
# common/ml (see DESIGN.md section 2).
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(glog CONFIG REQUIRED)
# Prometheus metrics (server/metrics links prometheus-cpp::core only; the
# package's config also looks for civetweb, CURL and ZLIB).
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(ZLIB REQUIRED)
# The on-device example store (client/examples, the one target that links
# it). CMake's own FindSQLite3 module: Debian's libsqlite3-dev ships no
# CMake config, so this is not a CONFIG search.
find_package(SQLite3 REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
# libpq itself: the store strips passwords from DSNs with PQconninfoParse.
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
# sd_notify for Type=notify units (common/base/service_notify).
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
find_package(Torch CONFIG REQUIRED)
# onnx.proto (libonnx-dev) for common/ml's ONNX export; the checker (target
# onnx) in its tests. Debian's LibTorch links the same libraries.
find_package(ONNX CONFIG REQUIRED)
# OpenMPI (libopenmpi-dev): cohort-sim's ranks under mpirun (sim/mpi, the
# one target that links it). The C interface only.
find_package(MPI REQUIRED COMPONENTS C)
