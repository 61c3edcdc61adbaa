#ifndef COHORT_COMMON_CODEC_ENCODING_PARAMS_H_
#define COHORT_COMMON_CODEC_ENCODING_PARAMS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::codec {

// How a client turns a float update into a vector over Z_{2^bits}
// (DESIGN.md section 3, step 4). Every client in a round and the server that
// decodes the sum must use the same parameters.
struct EncodingParams {
  // L2 norm every update is clipped to before anything else. > 0.
  double clip_norm = 1.0;
  // Apply a randomized Hadamard rotation (spreads energy across coordinates,
  // so fewer bits lose less). Pads the vector to the next power of two.
  bool rotate = false;
  // Seed of the rotation's public ±1 signs; same for every client in a round.
  uint64_t rotation_seed = 0;
  // Multiplier applied before rounding; 1/scale is the rounding quantum. > 0.
  double scale = 1.0;
  // Bits per coordinate, in [1, 62]. Use ChooseBits() so sums cannot wrap.
  int bits = 32;
};

// INVALID_ARGUMENT unless clip_norm and scale are finite and > 0, bits is in
// [1, 62] and clip_norm * scale < 2^61.
absl::Status ValidateParams(const EncodingParams& params);

// Largest absolute value a single encoded coordinate can take before
// wrapping: ceil(clip_norm * scale) + 1. The +1 absorbs floating-point error
// in clipping, which can push a coordinate a hair above clip * scale and let
// the stochastic rounding step up. This holds with or without rotation,
// because no coordinate of a vector exceeds its L2 norm.
int64_t MaxAbsEncodedValue(double clip_norm, double scale);

// Smallest b such that the modular sum of num_summands encodings cannot wrap:
// 2^b > 2 * num_summands * MaxAbsEncodedValue(clip_norm, scale), i.e. the sum
// stays inside the two's-complement range [-2^(b-1), 2^(b-1) - 1]. The bound
// is per coordinate, so the dimension does not enter.
// INVALID_ARGUMENT if clip_norm or scale is not finite and > 0, if
// num_summands < 1, or if b would exceed 62.
absl::StatusOr<int> ChooseBits(double clip_norm, double scale,
                               int64_t num_summands);

}  // namespace cohort::codec

#endif  // COHORT_COMMON_CODEC_ENCODING_PARAMS_H_
