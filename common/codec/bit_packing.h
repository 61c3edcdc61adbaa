#ifndef COHORT_COMMON_CODEC_BIT_PACKING_H_
#define COHORT_COMMON_CODEC_BIT_PACKING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cohort::codec {

// Wire layout: value i occupies stream bits [i*bits, (i+1)*bits), least
// significant bit first, and stream bit k is bit (k % 8) of byte k / 8
// (little-endian bit order). The output is ceil(n * bits / 8) bytes and
// unused high bits of the last byte are zero.

// INVALID_ARGUMENT if bits is outside [1, 62] or a value is >= 2^bits.
absl::StatusOr<std::vector<uint8_t>> PackBits(absl::Span<const uint64_t> values,
                                              int bits);

// Inverse of PackBits for `count` values. INVALID_ARGUMENT if bits is outside
// [1, 62], count < 0, bytes.size() != ceil(count * bits / 8), or a padding
// bit in the last byte is set.
absl::StatusOr<std::vector<uint64_t>> UnpackBits(absl::Span<const uint8_t> bytes,
                                                 int64_t count, int bits);

}  // namespace cohort::codec

#endif  // COHORT_COMMON_CODEC_BIT_PACKING_H_
