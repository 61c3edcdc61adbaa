#ifndef COHORT_BENCH_RAW_TLS_BASELINE_H_
#define COHORT_BENCH_RAW_TLS_BASELINE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace cohort::bench {

// Raw TLS throughput on loopback, the baseline of ingest_vs_raw_tls: a
// server thread (OpenSSL, the certificate and key in the PEM files
// `cert_path` and `key_path`, TLS 1.3 with OpenSSL's default suites) and a
// client in this thread, one connection; the client writes `bytes` in 16
// KiB records and the server reads them all. Bytes per second from the
// first write to the server's last read, best of `reps` connections.
// INTERNAL when OpenSSL or a socket call fails.
absl::StatusOr<double> RawTlsBytesPerSecond(const std::string& cert_path,
                                            const std::string& key_path,
                                            int64_t bytes, int reps);

}  // namespace cohort::bench

#endif  // COHORT_BENCH_RAW_TLS_BASELINE_H_
