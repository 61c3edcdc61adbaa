#ifndef COHORT_COMMON_CRYPTO_OPENSSL_UTIL_H_
#define COHORT_COMMON_CRYPTO_OPENSSL_UTIL_H_

// Internal helpers shared by the common/crypto wrappers. Not part of the
// public API: callers outside common/crypto should not include this.

#include <string_view>

#include "absl/status/status.h"

namespace cohort::crypto::internal {

// Drains this thread's OpenSSL error queue into a status with `code`, so a
// failure never leaks stale errors into an unrelated later call.
absl::Status OpenSslError(absl::StatusCode code, std::string_view what);

// Clears this thread's OpenSSL error queue; used where a failure is an
// expected outcome (a bad signature, a failed tag check).
void ClearOpenSslErrors();

}  // namespace cohort::crypto::internal

#endif  // COHORT_COMMON_CRYPTO_OPENSSL_UTIL_H_
