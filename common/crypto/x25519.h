#ifndef COHORT_COMMON_CRYPTO_X25519_H_
#define COHORT_COMMON_CRYPTO_X25519_H_

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/crypto/secure_random.h"

namespace cohort::crypto {

inline constexpr size_t kX25519KeySize = 32;
inline constexpr size_t kX25519SharedSecretSize = 32;

// An X25519 public key (RFC 7748 u-coordinate, 32 bytes little-endian).
// Immutable value type; thread-safe.
class X25519PublicKey {
 public:
  // Returns INVALID_ARGUMENT unless `bytes` is exactly 32 bytes. Low-order
  // points are accepted here and rejected by ComputeSharedSecret.
  static absl::StatusOr<X25519PublicKey> FromBytes(
      absl::Span<const uint8_t> bytes);

  const std::array<uint8_t, kX25519KeySize>& bytes() const { return bytes_; }

  friend bool operator==(const X25519PublicKey&,
                         const X25519PublicKey&) = default;

 private:
  explicit X25519PublicKey(const std::array<uint8_t, kX25519KeySize>& bytes)
      : bytes_(bytes) {}
  friend class X25519PrivateKey;

  std::array<uint8_t, kX25519KeySize> bytes_;
};

// An X25519 private key (32-byte scalar, clamped by X25519 itself) together
// with its public key. Immutable value type; thread-safe. The secret bytes are
// wiped when the object is destroyed.
class X25519PrivateKey {
 public:
  // Draws 32 bytes from `random`. Returns the generator's status (INTERNAL)
  // if it fails, or INTERNAL if OpenSSL cannot derive the public key.
  static absl::StatusOr<X25519PrivateKey> Generate(SecureRandom& random);

  // Returns INVALID_ARGUMENT unless `bytes` is exactly 32 bytes; INTERNAL if
  // OpenSSL cannot load the key.
  static absl::StatusOr<X25519PrivateKey> FromBytes(
      absl::Span<const uint8_t> bytes);

  X25519PrivateKey(const X25519PrivateKey&) = default;
  X25519PrivateKey& operator=(const X25519PrivateKey&) = default;
  ~X25519PrivateKey();

  const X25519PublicKey& PublicKey() const { return public_key_; }
  const std::array<uint8_t, kX25519KeySize>& bytes() const { return bytes_; }

  // X25519(this, peer): the raw shared secret. Feed it to HKDF before use as
  // a key. Returns INVALID_ARGUMENT if `peer` is a low-order point (the
  // result would be all zeros), INTERNAL on any other OpenSSL failure.
  absl::StatusOr<std::array<uint8_t, kX25519SharedSecretSize>>
  ComputeSharedSecret(const X25519PublicKey& peer) const;

 private:
  X25519PrivateKey(const std::array<uint8_t, kX25519KeySize>& bytes,
                   const X25519PublicKey& public_key,
                   std::shared_ptr<EVP_PKEY> pkey)
      : bytes_(bytes), public_key_(public_key), pkey_(std::move(pkey)) {}

  std::array<uint8_t, kX25519KeySize> bytes_;
  X25519PublicKey public_key_;
  // The key as loaded into OpenSSL, shared by copies and only read after
  // construction. Loading a raw private key derives its public key (a full
  // scalar multiplication), so doing it once per key rather than once per
  // agreement halves the cost of ComputeSharedSecret.
  std::shared_ptr<EVP_PKEY> pkey_;
  friend class X25519Agreements;
};

// A public key loaded into OpenSSL once, for agreements with many private
// keys (a SecAgg+ server meets each survivor's key once for every dropped
// neighbour). Immutable value type; thread-safe.
class X25519PeerKey {
 public:
  // INTERNAL if OpenSSL cannot load the key.
  static absl::StatusOr<X25519PeerKey> Load(const X25519PublicKey& key);

 private:
  explicit X25519PeerKey(std::shared_ptr<EVP_PKEY> pkey)
      : pkey_(std::move(pkey)) {}
  friend class X25519Agreements;

  std::shared_ptr<EVP_PKEY> pkey_;
};

// X25519 agreements of one private key with many peers on one OpenSSL
// derivation context, set up once. Setting a context up (finding the
// provider's key exchange) costs about as much as the scalar
// multiplication itself, so a caller with many peers for one key uses this;
// ComputeSharedSecret is one agreement on a context of its own. Movable, not
// thread-safe: one per thread.
class X25519Agreements {
 public:
  // INTERNAL if OpenSSL cannot set the context up.
  static absl::StatusOr<X25519Agreements> Create(const X25519PrivateKey& own);

  X25519Agreements(X25519Agreements&&) = default;
  X25519Agreements& operator=(X25519Agreements&&) = default;
  // Copies would share the context, which is not thread-safe.
  X25519Agreements(const X25519Agreements&) = delete;
  X25519Agreements& operator=(const X25519Agreements&) = delete;

  // X25519(own, peer), with the codes of ComputeSharedSecret.
  absl::StatusOr<std::array<uint8_t, kX25519SharedSecretSize>> With(
      const X25519PeerKey& peer);

 private:
  X25519Agreements(std::shared_ptr<EVP_PKEY> own,
                   std::shared_ptr<EVP_PKEY_CTX> ctx)
      : own_(std::move(own)), ctx_(std::move(ctx)) {}

  std::shared_ptr<EVP_PKEY> own_;  // kept alive for the context
  std::shared_ptr<EVP_PKEY_CTX> ctx_;
};

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_X25519_H_
