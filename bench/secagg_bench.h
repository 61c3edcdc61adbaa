#ifndef COHORT_BENCH_SECAGG_BENCH_H_
#define COHORT_BENCH_SECAGG_BENCH_H_

// Pieces of bench/secagg_bench (see secagg_bench.cc for what each measures).
// Each returns a JSON object text plus the headline figures.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace cohort::secagg::bench {

using Clock = std::chrono::steady_clock;
inline double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
std::string J(double v);

struct MaskExpansion {
  double headline_ratio = 0;  // mask_expansion_vs_openssl
  std::string detail_json;    // mask_expansion_detail
};
MaskExpansion MeasureMaskExpansion(int openssl_seconds);

// `openssl speed -evp aes-256-ctr -seconds s`: keystream bytes/s at its
// largest block, one core; the line it came from in *line_out. With
// `processes` > 1, `-multi processes`: the sum over that many processes
// running at once, what the machine's cores give together.
double OpensslBytesPerSecond(int seconds, std::string* line_out,
                             int processes = 1);
// `openssl speed -seconds s ecdhx25519`: X25519 agreements/s, one core (or
// the sum over `processes` at once, as above).
double OpensslX25519PerSecond(int seconds, std::string* line_out,
                              int processes = 1);

struct LocalTraining {
  double median_ms = 0;
  int64_t parameters = 0;
};
LocalTraining MeasureLocalTraining(const std::string& idx_dir);

// One in-memory SecAgg+ round with n clients (secagg_bench_protocol.cc).
struct ProtocolRun {
  int n = 0, k = 0, t = 0, bits = 0, dropped = 0;
  int64_t d = 0;
  double client0_ms = 0;        // client 0: Start + every ReceiveMessage
  double server_unmask_ms = 0;  // server: Unmasking responses + finish
  double plain_sum_ms = 0;      // plain sum of the same survivors' vectors
  double summation_ms = 0, reconstruction_ms = 0, key_agreement_ms = 0,
         mask_expansion_ms = 0, finish_ms = 0;  // UnmaskingTimings
  int secrets_reconstructed = 0, lagrange_sets = 0, masks_removed = 0;
  size_t share_ciphertext_bytes = 0;
};
// The last `dropped` clients stop after ShareKeys, before their masked
// input. k and t come from FindParameters(n, expected_dropout, corrupt) or,
// if it has
// no answer, the complete graph with t = n/2. CHECK-fails unless the secure
// sum equals the plain sum.
// The server unmasks on `server_threads` threads.
ProtocolRun RunProtocol(int n, int64_t d, int bits, int dropped,
                        double expected_dropout, double corrupt,
                        int server_threads = 1);
std::string ProtocolJson(const ProtocolRun& r);

// Payload bytes per client against the masked vector alone.
std::string BytesPerClient(size_t share_ciphertext_bytes, double* headline);

}  // namespace cohort::secagg::bench

#endif  // COHORT_BENCH_SECAGG_BENCH_H_
