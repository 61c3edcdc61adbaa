#ifndef COHORT_COMMON_CRYPTO_ED25519_H_
#define COHORT_COMMON_CRYPTO_ED25519_H_

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/crypto/secure_random.h"

namespace cohort::crypto {

inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

// A 64-byte Ed25519 signature (RFC 8032, R || S). Immutable value type.
class Ed25519Signature {
 public:
  // Returns INVALID_ARGUMENT unless `bytes` is exactly 64 bytes.
  static absl::StatusOr<Ed25519Signature> FromBytes(
      absl::Span<const uint8_t> bytes);

  const std::array<uint8_t, kEd25519SignatureSize>& bytes() const {
    return bytes_;
  }
  friend bool operator==(const Ed25519Signature&,
                         const Ed25519Signature&) = default;

 private:
  explicit Ed25519Signature(const std::array<uint8_t, kEd25519SignatureSize>& b)
      : bytes_(b) {}
  friend class Ed25519PrivateKey;

  std::array<uint8_t, kEd25519SignatureSize> bytes_;
};

// A 32-byte Ed25519 public key (RFC 8032 encoding). Immutable value type;
// thread-safe.
class Ed25519PublicKey {
 public:
  // Returns INVALID_ARGUMENT unless `bytes` is exactly 32 bytes. Whether the
  // bytes encode a curve point is only checked by Verify.
  static absl::StatusOr<Ed25519PublicKey> FromBytes(
      absl::Span<const uint8_t> bytes);

  // Pure Ed25519 (no prehash, no context) verification of `signature` over
  // `message`. Returns OK if it verifies; UNAUTHENTICATED ("Ed25519 signature
  // verification failed") if it does not, including a non-canonical
  // signature or a key that is not a valid point; INTERNAL if OpenSSL cannot
  // be set up. Never crashes on hostile input.
  absl::Status Verify(absl::Span<const uint8_t> message,
                      const Ed25519Signature& signature) const;

  const std::array<uint8_t, kEd25519PublicKeySize>& bytes() const {
    return bytes_;
  }
  friend bool operator==(const Ed25519PublicKey&,
                         const Ed25519PublicKey&) = default;

 private:
  explicit Ed25519PublicKey(const std::array<uint8_t, kEd25519PublicKeySize>& b)
      : bytes_(b) {}
  friend class Ed25519PrivateKey;

  std::array<uint8_t, kEd25519PublicKeySize> bytes_;
};

// An Ed25519 private key: the 32-byte RFC 8032 seed plus its public key.
// Immutable value type; thread-safe. The seed is wiped on destruction.
class Ed25519PrivateKey {
 public:
  // Draws a 32-byte seed from `random`. Returns the generator's status
  // (INTERNAL) if it fails, or INTERNAL if OpenSSL fails.
  static absl::StatusOr<Ed25519PrivateKey> Generate(SecureRandom& random);

  // Returns INVALID_ARGUMENT unless `seed` is exactly 32 bytes; INTERNAL if
  // OpenSSL fails.
  static absl::StatusOr<Ed25519PrivateKey> FromSeed(
      absl::Span<const uint8_t> seed);

  Ed25519PrivateKey(const Ed25519PrivateKey&) = default;
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&) = default;
  ~Ed25519PrivateKey();

  const Ed25519PublicKey& PublicKey() const { return public_key_; }
  const std::array<uint8_t, kEd25519SeedSize>& seed() const { return seed_; }

  // Pure Ed25519 signature of `message` (deterministic, RFC 8032). OpenSSL
  // can only fail here on allocation failure, which CHECK-fails.
  Ed25519Signature Sign(absl::Span<const uint8_t> message) const;

 private:
  Ed25519PrivateKey(const std::array<uint8_t, kEd25519SeedSize>& seed,
                    const Ed25519PublicKey& public_key)
      : seed_(seed), public_key_(public_key) {}

  std::array<uint8_t, kEd25519SeedSize> seed_;
  Ed25519PublicKey public_key_;
};

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_ED25519_H_
