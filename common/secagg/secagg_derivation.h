#ifndef COHORT_COMMON_SECAGG_SECAGG_DERIVATION_H_
#define COHORT_COMMON_SECAGG_SECAGG_DERIVATION_H_

// Key derivations shared by the SecAgg+ client and server. Both directions of
// a pair derive the same key from X25519 (symmetric in the two ids, which enter
// HKDF's info in increasing order together with the round id), so each
// (pair, round) has a fresh key. Share ciphertexts use the sender's id as the
// nonce: a key encrypts exactly one message per direction.
// Header-only; pure functions, thread-safe.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/aes_gcm.h"
#include "common/crypto/hkdf.h"
#include "common/crypto/x25519.h"
#include "common/secagg/field_element.h"

namespace cohort::secagg {

// Plaintext of one encrypted share: sender id, recipient id (4 bytes each,
// big-endian), then the self-mask-seed share and the mask-key share.
inline constexpr size_t kSharePlaintextSize =
    8 + 2 * FieldElement::kEncodedBytes;
inline constexpr size_t kShareCiphertextSize =
    kSharePlaintextSize + crypto::kAesGcmTagSize;

namespace internal {
inline std::string PairInfo(const char* label, uint64_t round_id, int a,
                            int b) {
  return absl::StrCat(label, "|round=", round_id, "|", std::min(a, b), "|",
                      std::max(a, b));
}
inline absl::Span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
// HKDF of an X25519 shared secret (or its error) into a pair's key.
inline absl::StatusOr<std::vector<uint8_t>> PairKeyFromSecret(
    const absl::StatusOr<std::array<uint8_t, 32>>& secret, const char* label,
    uint64_t round_id, int a, int b) {
  if (!secret.ok()) return secret.status();
  const std::string info = PairInfo(label, round_id, a, b);
  return crypto::HkdfSha256(*secret, {}, AsBytes(info), 32);
}

inline absl::StatusOr<std::vector<uint8_t>> DerivePairKey(
    const crypto::X25519PrivateKey& own, const crypto::X25519PublicKey& peer,
    const char* label, uint64_t round_id, int a, int b) {
  return PairKeyFromSecret(own.ComputeSharedSecret(peer), label, round_id, a,
                           b);
}

inline absl::StatusOr<std::array<uint8_t, 32>> SeedFromKey(
    const absl::StatusOr<std::vector<uint8_t>>& bytes) {
  if (!bytes.ok()) return bytes.status();
  std::array<uint8_t, 32> seed{};
  std::copy(bytes->begin(), bytes->end(), seed.begin());
  return seed;
}

inline constexpr char kPairMaskLabel[] = "cohort-secagg-pair-mask";
}  // namespace internal

// AES-256-GCM key for the shares exchanged between clients a and b.
// INVALID_ARGUMENT for a low-order peer key; INTERNAL on OpenSSL failure.
inline absl::StatusOr<crypto::AesGcmKey> DeriveShareKey(
    const crypto::X25519PrivateKey& own, const crypto::X25519PublicKey& peer,
    uint64_t round_id, int a, int b) {
  auto bytes = internal::DerivePairKey(own, peer, "cohort-secagg-share-key",
                                       round_id, a, b);
  if (!bytes.ok()) return bytes.status();
  return crypto::AesGcmKey::FromBytes(*bytes);
}

// The 32-byte PRG seed of the pairwise mask between clients a and b.
inline absl::StatusOr<std::array<uint8_t, 32>> DerivePairwiseSeed(
    const crypto::X25519PrivateKey& own, const crypto::X25519PublicKey& peer,
    uint64_t round_id, int a, int b) {
  return internal::SeedFromKey(internal::DerivePairKey(
      own, peer, internal::kPairMaskLabel, round_id, a, b));
}

// The same seed from agreements of one key with many peers (a server
// unmasking a dropped client meets all its surviving neighbours).
inline absl::StatusOr<std::array<uint8_t, 32>> DerivePairwiseSeed(
    crypto::X25519Agreements& own, const crypto::X25519PeerKey& peer,
    uint64_t round_id, int a, int b) {
  return internal::SeedFromKey(internal::PairKeyFromSecret(
      own.With(peer), internal::kPairMaskLabel, round_id, a, b));
}

inline std::array<uint8_t, crypto::kAesGcmNonceSize> ShareNonce(int sender) {
  std::array<uint8_t, crypto::kAesGcmNonceSize> nonce{};
  for (int i = 0; i < 4; ++i) nonce[i] = (sender >> (24 - 8 * i)) & 0xff;
  return nonce;
}

inline std::string ShareAssociatedData(uint64_t round_id, int from, int to) {
  return absl::StrCat("cohort-secagg-share|round=", round_id, "|from=", from,
                      "|to=", to);
}

inline void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back((v >> (24 - 8 * i)) & 0xff);
}
inline uint32_t GetU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_SECAGG_DERIVATION_H_
