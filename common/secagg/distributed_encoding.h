#ifndef COHORT_COMMON_SECAGG_DISTRIBUTED_ENCODING_H_
#define COHORT_COMMON_SECAGG_DISTRIBUTED_ENCODING_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/codec/encoder.h"
#include "common/secagg/secure_update.h"

namespace cohort::secagg {

// The distributed discrete Gaussian's encoding (Kairouz, Liu, Steinke 2021,
// "The Distributed Discrete Gaussian Mechanism for Federated Learning with
// Secure Aggregation"): rotation on, every device weighing 1
// (example_cap 1), the modulus 2^(bits_per_coordinate + ceil(log2
// num_clients)), and the largest scale at which four standard deviations of
// a noisy sum of num_clients inputs (their deltas aligned, the worst case)
// fit in it; a coordinate beyond that wraps and decodes wrong (the paper's
// modular clipping). Each device's noise has deviation
// noise_multiplier * rounding_bound / sqrt(min_contributors), so any
// min_contributors inputs together carry noise of noise_multiplier times
// one input's L2 sensitivity. INVALID_ARGUMENT for values out of range:
// bits_per_coordinate outside [2, 30], num_clients < min_contributors or
// min_contributors < 1, a non-positive clip norm or noise multiplier, or a
// modulus above 62 bits.
absl::StatusOr<UpdateEncoding> PlanDistributedEncoding(
    int bits_per_coordinate, double clip_norm, uint64_t rotation_seed,
    int64_t dimension, int num_clients, int min_contributors,
    double noise_multiplier);

// The L2 norm conditional rounding allows for a vector of L2 norm at most
// `norm` in `dimension` coordinates: Kairouz et al. 2021, Theorem 1, with
// beta = e^(-1/2):
//   sqrt(norm^2 + dimension / 4 + norm + sqrt(dimension) / 2).
double RoundedNormBound(double norm, int64_t dimension);

// The encoded delta of EncodeUpdate under distributed DP: conditional
// rounding of `weighted` (the clipped, weighted delta) to L2 norm
// e.rounding_bound, discrete Gaussian noise of deviation e.noise_stddev on
// every coordinate from `noise`, then the wrap. FAILED_PRECONDITION after
// 100 roundings that do not fit; errors from `encoder` as-is.
absl::StatusOr<std::vector<uint64_t>> EncodeNoisyDelta(
    const codec::Encoder& encoder, const UpdateEncoding& e,
    absl::Span<const float> weighted, codec::UniformSource uniform,
    absl::FunctionRef<double()> noise);

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_DISTRIBUTED_ENCODING_H_
