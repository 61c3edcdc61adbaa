#ifndef COHORT_COMMON_CRYPTO_SHA256_H_
#define COHORT_COMMON_CRYPTO_SHA256_H_

#include <string>
#include <string_view>

namespace cohort::crypto {

// SHA-256 of `data` through OpenSSL's EVP API, as 64 lower-case hex digits.
// Thread-safe.
std::string Sha256Hex(std::string_view data);

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_SHA256_H_
