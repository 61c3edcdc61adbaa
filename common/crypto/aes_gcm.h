#ifndef COHORT_COMMON_CRYPTO_AES_GCM_H_
#define COHORT_COMMON_CRYPTO_AES_GCM_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/crypto/secure_random.h"

namespace cohort::crypto {

inline constexpr size_t kAesGcmKeySize = 32;
inline constexpr size_t kAesGcmNonceSize = 12;
inline constexpr size_t kAesGcmTagSize = 16;

// A 256-bit AES-GCM key. Immutable value type; thread-safe. The key bytes are
// wiped when the object is destroyed.
class AesGcmKey {
 public:
  // Returns INVALID_ARGUMENT unless `bytes` is exactly 32 bytes.
  static absl::StatusOr<AesGcmKey> FromBytes(absl::Span<const uint8_t> bytes);
  // Returns the generator's status (INTERNAL) if it fails.
  static absl::StatusOr<AesGcmKey> Generate(SecureRandom& random);

  AesGcmKey(const AesGcmKey&) = default;
  AesGcmKey& operator=(const AesGcmKey&) = default;
  ~AesGcmKey();

  const std::array<uint8_t, kAesGcmKeySize>& bytes() const { return bytes_; }

 private:
  explicit AesGcmKey(absl::Span<const uint8_t> bytes);

  std::array<uint8_t, kAesGcmKeySize> bytes_;
};

// AES-256-GCM authenticated encryption with a 12-byte nonce and a 16-byte tag.
// A (key, nonce) pair must never seal two different messages: callers either
// use a fresh key per message (as SecAgg does with HKDF-derived keys) or draw
// nonces from SecureRandom. Thread-safe.

// Encrypts `plaintext` and authenticates it together with `associated_data`.
// Returns ciphertext || tag (plaintext.size() + 16 bytes).
// Returns INVALID_ARGUMENT if the nonce is not 12 bytes; INTERNAL if OpenSSL
// fails.
absl::StatusOr<std::vector<uint8_t>> AesGcmSeal(
    const AesGcmKey& key, absl::Span<const uint8_t> nonce,
    absl::Span<const uint8_t> plaintext,
    absl::Span<const uint8_t> associated_data);

// Verifies and decrypts ciphertext || tag as produced by AesGcmSeal. No
// plaintext is returned unless the tag verifies.
// Returns INVALID_ARGUMENT if the nonce is not 12 bytes or `sealed` is shorter
// than the tag; UNAUTHENTICATED ("AES-GCM authentication failed") if the
// ciphertext, tag, nonce, associated data or key do not match; INTERNAL if
// OpenSSL fails otherwise.
absl::StatusOr<std::vector<uint8_t>> AesGcmOpen(
    const AesGcmKey& key, absl::Span<const uint8_t> nonce,
    absl::Span<const uint8_t> sealed,
    absl::Span<const uint8_t> associated_data);

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_AES_GCM_H_
