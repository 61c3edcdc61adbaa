#ifndef COHORT_COMMON_PRIVACY_NOISE_SOURCE_H_
#define COHORT_COMMON_PRIVACY_NOISE_SOURCE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/crypto/aes_ctr_prg.h"

namespace cohort::privacy {

// Randomness for differential privacy's noise: uniform draws in (0, 1]
// (53 bits) and standard normals (Box-Muller on them), from the AES-256-CTR
// keystream of a 32-byte seed (crypto::AesCtrPrg). Production seeds it from
// OpenSSL's DRBG (the coordinator every round, a device every secure round);
// the simulator from its run seed so that runs repeat.
//
// The draws are floating-point: they are not hardened against the
// floating-point attacks on noise in the low-order bits (Mironov 2012);
// docs/DECISIONS.md says so. Movable, not copyable, not thread-safe.
class NoiseSource {
 public:
  // INVALID_ARGUMENT unless seed is 32 bytes; INTERNAL if OpenSSL fails.
  static absl::StatusOr<NoiseSource> Create(absl::Span<const uint8_t> seed);

  // The next uniform draw in (0, 1]. INTERNAL if OpenSSL fails.
  absl::StatusOr<double> Uniform();

  // The next N(0, 1) draw. INTERNAL if OpenSSL fails.
  absl::StatusOr<double> Next();

  // Adds N(0, stddev^2) to each of `values`. Same status codes.
  absl::Status AddTo(absl::Span<float> values, double stddev);

 private:
  explicit NoiseSource(crypto::AesCtrPrg prg) : prg_(std::move(prg)) {}

  crypto::AesCtrPrg prg_;
  std::vector<uint64_t> words_;
  size_t next_word_ = 0;
  // Box-Muller makes two draws; the second waits here.
  std::optional<double> spare_;
};

}  // namespace cohort::privacy

#endif  // COHORT_COMMON_PRIVACY_NOISE_SOURCE_H_
