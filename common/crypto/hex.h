#ifndef COHORT_COMMON_CRYPTO_HEX_H_
#define COHORT_COMMON_CRYPTO_HEX_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cohort::crypto {

// Lower-case hex encoding of `bytes`. Thread-safe.
std::string BytesToHex(absl::Span<const uint8_t> bytes);

// Decodes hex (either case, no separators or prefix).
// Returns INVALID_ARGUMENT on an odd length or a non-hex character.
absl::StatusOr<std::vector<uint8_t>> HexToBytes(std::string_view hex);

}  // namespace cohort::crypto

#endif  // COHORT_COMMON_CRYPTO_HEX_H_
