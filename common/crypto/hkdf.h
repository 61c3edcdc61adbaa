#ifndef COHORT_COMMON_CRYPTO_HKDF_H_
#define COHORT_COMMON_CRYPTO_HKDF_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cohort::crypto {

// The largest output HKDF-SHA256 can produce (RFC 5869: 255 * HashLen).
inline constexpr size_t kHkdfSha256MaxLength = 255 * 32;

// HKDF-SHA256 (RFC 5869, extract-then-expand) over OpenSSL's HMAC-SHA256,
// with one HMAC context per thread that no call looks up by name.
// An empty `salt` means HashLen zero bytes, as the RFC specifies; `info` may be
// empty. Thread-safe.
//
// Returns INVALID_ARGUMENT if `ikm` is empty, `length` is 0 or `length` >
// kHkdfSha256MaxLength; INTERNAL if OpenSSL fails.
absl::StatusOr<std::vector<uint8_t>> HkdfSha256(absl::Span<const uint8_t> ikm,
                                                absl::Span<const uint8_t> salt,
                                                absl::Span<const uint8_t> info,
                                                size_t length);

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_HKDF_H_
