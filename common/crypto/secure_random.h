#ifndef COHORT_COMMON_CRYPTO_SECURE_RANDOM_H_
#define COHORT_COMMON_CRYPTO_SECURE_RANDOM_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace cohort::crypto {

// The one source of cryptographic randomness (keys, seeds, nonces). Library
// code takes a `SecureRandom&` and never reaches for a global; production
// passes `OpenSslRandom`, tests pass the deterministic
// `cohort::testing::FakeRandom` (tests/testing/fake_random.h).
class SecureRandom {
 public:
  virtual ~SecureRandom() = default;

  // Fills `out` with random bytes.
  // Returns INTERNAL if the generator fails (e.g. it could not be seeded);
  // `out` is then unspecified and must not be used.
  virtual absl::Status Fill(absl::Span<uint8_t> out) = 0;
};

// OpenSSL's default DRBG (RAND_bytes), seeded from the OS. Stateless and
// thread-safe: one instance may be shared by every thread.
class OpenSslRandom final : public SecureRandom {
 public:
  // Returns INTERNAL if RAND_bytes fails.
  absl::Status Fill(absl::Span<uint8_t> out) override;
};

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_SECURE_RANDOM_H_
