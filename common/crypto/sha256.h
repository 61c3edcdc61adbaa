#ifndef COHORT_COMMON_CRYPTO_SHA256_H_
#define COHORT_COMMON_CRYPTO_SHA256_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cohort::crypto {

inline constexpr size_t kSha256Size = 32;

// SHA-256 of `data` through OpenSSL's EVP API, as raw bytes. Thread-safe.
// Cannot fail: an OpenSSL failure here is an allocation failure and CHECKs.
std::array<uint8_t, kSha256Size> Sha256(std::string_view data);

// SHA-256 of `data` through OpenSSL's EVP API, as 64 lower-case hex digits.
// Thread-safe.
std::string Sha256Hex(std::string_view data);

// The first 8 bytes of SHA-256(`data`) as a big-endian integer: a seed
// derived from public or secret material (e.g. a PRNG's). Thread-safe.
uint64_t Sha256Prefix64(std::string_view data);

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_SHA256_H_
