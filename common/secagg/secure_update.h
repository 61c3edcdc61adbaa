#ifndef COHORT_COMMON_SECAGG_SECURE_UPDATE_H_
#define COHORT_COMMON_SECAGG_SECURE_UPDATE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/codec/encoder.h"
#include "common/secagg/field_encoding.h"

namespace cohort::secagg {

// How a device turns (delta, example count, training loss) into the integer
// vector it feeds to SecAgg+, and how the server reads the sum. Layout:
//
//   [ Encode(w * clip(delta)) | loss | count | clipped | field ]
//
// with w = min(examples, example_cap) / example_cap in (0, 1]. Weighting
// before encoding makes the sum the FedAvg numerator sum_i w_i clip(delta_i);
// the count coordinate sums min(examples, cap), so the server divides by the
// total weight without ever seeing one device's count. The loss coordinate is
// w * clamp(loss, 0, loss_cap) in fixed point. The clipped coordinate is 1 if
// the device's delta had an L2 norm above clip_norm (clipping changed it),
// else 0: its sum is how many summed updates were clipped, which the server
// learns only as that count, like every other coordinate. Every coordinate
// of one input is at most 2^(bits_per_coordinate - 1) in absolute value, and
// the modulus has headroom for num_clients summands, so sums never wrap.
// `field` (absent when the layout is disabled) is the device's FieldValues
// (field_encoding.h), each value v in [0, 1] encoded as v *
// floor(loss_cap * loss_scale), the loss coordinate's fixed-point budget
// made whole (so `present` sums to an exact count): it is not weighted,
// so every device's field evaluation counts once.
struct UpdateEncoding {
  // params.bits is the modulus (the SecAgg+ instance's bits).
  codec::EncodingParams params;
  int64_t dimension = 0;  // float coordinates of the delta
  int64_t example_cap = 1;
  double loss_cap = 16.0;
  double loss_scale = 1.0;
  FieldLayout field;
  // Distributed differential privacy (PlanDistributedEncoding); off at 0.
  // The device rounds its scaled, rotated delta to integers until their L2
  // norm is at most rounding_bound (conditional rounding), adds
  // N_Z(0, noise_stddev^2) to each (privacy::SampleDiscreteGaussian), and
  // sends 0 in its loss and clipped coordinates: the sum's only un-noised
  // value is the count of inputs.
  double noise_stddev = 0.0;
  double rounding_bound = 0.0;
};

// Scale, loss scale and modulus for `num_clients` inputs of
// `bits_per_coordinate` (2..30) bits. INVALID_ARGUMENT for values out of
// range or a modulus that would exceed 62 bits.
absl::StatusOr<UpdateEncoding> PlanUpdateEncoding(int bits_per_coordinate,
                                                  double clip_norm, bool rotate,
                                                  uint64_t rotation_seed,
                                                  int64_t example_cap,
                                                  int64_t dimension,
                                                  int num_clients);

// Distributed DP's encoding: PlanDistributedEncoding in
// distributed_encoding.h.

// INVALID_ARGUMENT unless the parameters are ones PlanUpdateEncoding could
// have produced (a device checks what the server sent before using it).
absl::Status ValidateUpdateEncoding(const UpdateEncoding& encoding);

// Coordinates after the encoded delta: loss, count, clipped.
inline constexpr int64_t kExtraCoordinates = 3;

// Coordinates of one input: the encoded delta (padded with rotation) plus
// kExtraCoordinates plus FieldLength(encoding.field).
int64_t InputLength(const UpdateEncoding& encoding);

// Coordinates of the encoded delta alone: the dimension, padded to a power
// of two with rotation (codec::NextPowerOfTwo).
int64_t EncodedDeltaLength(const UpdateEncoding& encoding);

// INVALID_ARGUMENT for a delta of the wrong length or with NaN/Inf,
// examples < 1, a non-finite loss, or `field` not of FieldLength values in
// [0, 1] (FieldValues makes them).
//
// With distributed DP (encoding.noise_stddev > 0) `noise` draws the
// discrete Gaussian noise (uniforms in (0, 1], from a secret seed: anyone who
// knows it can subtract the noise); INVALID_ARGUMENT without one.
// FAILED_PRECONDITION if conditional rounding fails 100 times in a row
// (each try fails with probability below e^(-1/2)).
//
// `clipped_on_device`: the device already clipped the delta (block by
// block, model::PrepareUpdate), which the clipped coordinate then counts
// even though the whole vector is within clip_norm.
absl::StatusOr<std::vector<uint64_t>> EncodeUpdate(
    const UpdateEncoding& encoding, absl::Span<const float> delta,
    int64_t examples, double loss, codec::UniformSource uniform,
    absl::Span<const double> field = {},
    std::optional<absl::FunctionRef<double()>> noise = std::nullopt,
    bool clipped_on_device = false);

struct DecodedUpdateSum {
  std::vector<double> weighted_delta_sum;  // sum_i w_i clip(delta_i)
  double weight_sum = 0;                   // sum_i w_i
  int64_t capped_examples = 0;             // sum_i min(examples_i, cap)
  double mean_loss = 0;                    // sum_i w_i loss_i / weight_sum
  int64_t clipped_updates = 0;  // inputs whose delta norm exceeded clip_norm
  // The sum of the inputs' FieldValues (FieldMeanOfSum reads it); empty
  // when the layout is disabled.
  std::vector<double> field_sum;
};

// INVALID_ARGUMENT for a sum of the wrong length or out of range, one whose
// count coordinate is not positive (no input was summed), or one whose
// clipped count is negative or above the summed count (each input adds at
// most 1 to it and at least 1 to the count).
absl::StatusOr<DecodedUpdateSum> DecodeUpdateSum(
    const UpdateEncoding& encoding, absl::Span<const uint64_t> sum);

// The decoded sum of two disjoint sets of inputs (hierarchical secure
// aggregation adds its groups' sums this way): sums and counts add, and
// mean_loss is re-weighted by weight_sum. INVALID_ARGUMENT if the delta or
// field sums differ in length.
absl::StatusOr<DecodedUpdateSum> AddDecodedSums(DecodedUpdateSum a,
                                                const DecodedUpdateSum& b);

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_SECURE_UPDATE_H_
