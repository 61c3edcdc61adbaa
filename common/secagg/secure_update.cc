#include "common/secagg/secure_update.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/codec/encoding_params.h"
#include "common/codec/hadamard.h"
#include "common/privacy/discrete_gaussian.h"
#include "common/secagg/distributed_encoding.h"

namespace cohort::secagg {
namespace {

// Largest magnitude of one encoded coordinate at b bits per coordinate,
// leaving 1 for MaxAbsEncodedValue's rounding slack.
double Budget(int bits_per_coordinate) {
  return std::ldexp(1.0, bits_per_coordinate - 1) - 2.0;
}

// Two's-complement value of v in Z_{2^bits}.
int64_t Signed(uint64_t v, int bits) {
  const uint64_t half = uint64_t{1} << (bits - 1);
  return v >= half ? static_cast<int64_t>(v) - static_cast<int64_t>(half) -
                         static_cast<int64_t>(half)
                   : static_cast<int64_t>(v);
}

// Fixed-point scale of the field values: the loss coordinate's budget,
// made whole so that the 0/1 `present` values sum to an exact count.
double FieldScale(const UpdateEncoding& e) {
  return std::floor(e.loss_cap * e.loss_scale);
}

uint64_t Wrap(int64_t v, int bits) {
  return static_cast<uint64_t>(v) & ((uint64_t{1} << bits) - 1);
}

}  // namespace

absl::StatusOr<UpdateEncoding> PlanUpdateEncoding(int bits_per_coordinate,
                                                  double clip_norm, bool rotate,
                                                  uint64_t rotation_seed,
                                                  int64_t example_cap,
                                                  int64_t dimension,
                                                  int num_clients) {
  if (bits_per_coordinate < 2 || bits_per_coordinate > 30) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bits_per_coordinate ", bits_per_coordinate, " outside [2, 30]"));
  }
  if (example_cap < 1 || example_cap > 1000000000) {
    return absl::InvalidArgumentError("example_cap outside [1, 1e9]");
  }
  if (num_clients < 1) return absl::InvalidArgumentError("no clients");
  UpdateEncoding e;
  e.dimension = dimension;
  e.example_cap = example_cap;
  e.params.clip_norm = clip_norm;
  e.params.rotate = rotate;
  e.params.rotation_seed = rotation_seed;
  e.params.scale = Budget(bits_per_coordinate) / clip_norm;
  e.loss_scale = Budget(bits_per_coordinate) / e.loss_cap;
  COHORT_ASSIGN_OR_RETURN(
      int bits, codec::ChooseBits(clip_norm, e.params.scale, num_clients));
  // The count coordinate sums up to num_clients * example_cap.
  const double max_count = static_cast<double>(num_clients) *
                           static_cast<double>(example_cap);
  while (bits <= 62 && std::ldexp(1.0, bits - 1) <= max_count) ++bits;
  if (bits > 62) {
    return absl::InvalidArgumentError(
        "the modulus for this cohort would exceed 62 bits");
  }
  e.params.bits = bits;
  COHORT_RETURN_IF_ERROR(ValidateUpdateEncoding(e));
  return e;
}

absl::Status ValidateUpdateEncoding(const UpdateEncoding& e) {
  COHORT_RETURN_IF_ERROR(codec::ValidateParams(e.params));
  if (e.dimension < 1 || e.dimension > (int64_t{1} << 28)) {
    return absl::InvalidArgumentError("update dimension outside [1, 2^28]");
  }
  if (e.example_cap < 1 || e.example_cap > 1000000000) {
    return absl::InvalidArgumentError("example_cap outside [1, 1e9]");
  }
  if (!(e.loss_cap > 0) || !std::isfinite(e.loss_cap) || !(e.loss_scale > 0) ||
      !std::isfinite(e.loss_scale) ||
      e.loss_cap * e.loss_scale > std::ldexp(1.0, e.params.bits - 2)) {
    return absl::InvalidArgumentError("loss encoding out of range");
  }
  if (std::ldexp(1.0, e.params.bits - 1) <= static_cast<double>(e.example_cap)) {
    return absl::InvalidArgumentError("modulus too small for example_cap");
  }
  // Distributed DP: noise of at least one encoded unit (less would leave
  // the rounding as the only noise) within the sampler's range, a rounding
  // bound that keeps the noisy integers far from overflow, and nothing in
  // the sum but the noisy delta and the count.
  const bool noisy = e.noise_stddev != 0 || e.rounding_bound != 0;
  if (noisy && (!(e.noise_stddev >= 1) ||
                !(e.noise_stddev <= privacy::kMaxDiscreteGaussianSigma) ||
                !(e.rounding_bound > 0) ||
                !(e.rounding_bound <= std::ldexp(1.0, 60)) ||
                !e.params.rotate || e.example_cap != 1 ||
                FieldLength(e.field) != 0)) {
    return absl::InvalidArgumentError("distributed DP encoding out of range");
  }
  return ValidateFieldLayout(e.field);
}

int64_t EncodedDeltaLength(const UpdateEncoding& e) {
  return e.params.rotate ? codec::NextPowerOfTwo(e.dimension) : e.dimension;
}

int64_t InputLength(const UpdateEncoding& e) {
  return EncodedDeltaLength(e) + kExtraCoordinates + FieldLength(e.field);
}

absl::StatusOr<std::vector<uint64_t>> EncodeUpdate(
    const UpdateEncoding& e, absl::Span<const float> delta, int64_t examples,
    double loss, codec::UniformSource uniform, absl::Span<const double> field,
    std::optional<absl::FunctionRef<double()>> noise, bool clipped_on_device) {
  if (examples < 1) return absl::InvalidArgumentError("examples must be >= 1");
  if (static_cast<int64_t>(field.size()) != FieldLength(e.field)) {
    return absl::InvalidArgumentError(
        absl::StrCat("field has ", field.size(), " values, expected ",
                     FieldLength(e.field)));
  }
  for (double v : field) {
    if (!(v >= 0.0 && v <= 1.0)) {
      return absl::InvalidArgumentError("field value outside [0, 1]");
    }
  }
  if (!std::isfinite(loss)) return absl::InvalidArgumentError("loss is not finite");
  if (static_cast<int64_t>(delta.size()) != e.dimension) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delta has ", delta.size(), " values, expected ", e.dimension));
  }
  std::vector<double> clipped(delta.begin(), delta.end());
  for (double v : clipped) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("delta is not finite");
  }
  const bool was_clipped =
      codec::ClipToNorm(absl::MakeSpan(clipped), e.params.clip_norm) >
          e.params.clip_norm ||
      clipped_on_device;
  const int64_t capped = std::min(examples, e.example_cap);
  const double w = static_cast<double>(capped) / static_cast<double>(e.example_cap);
  std::vector<float> weighted(clipped.size());
  for (size_t i = 0; i < clipped.size(); ++i) {
    weighted[i] = static_cast<float>(w * clipped[i]);
  }
  COHORT_ASSIGN_OR_RETURN(codec::Encoder encoder,
                          codec::Encoder::Create(e.params, e.dimension));
  // Under distributed DP only the noisy delta and the count are summed.
  const bool distributed = e.noise_stddev > 0;
  if (distributed && !noise.has_value()) {
    return absl::InvalidArgumentError("distributed DP needs a noise source");
  }
  COHORT_ASSIGN_OR_RETURN(
      std::vector<uint64_t> out,
      distributed ? EncodeNoisyDelta(encoder, e, weighted, uniform, *noise)
                  : encoder.Encode(weighted, uniform));
  const double l = distributed ? 0.0 : std::clamp(loss, 0.0, e.loss_cap);
  out.push_back(Wrap(codec::StochasticRound(w * l * e.loss_scale, uniform()),
                     e.params.bits));
  out.push_back(Wrap(capped, e.params.bits));
  out.push_back(Wrap(was_clipped && !distributed ? 1 : 0, e.params.bits));
  const double field_scale = FieldScale(e);
  for (double v : field) {
    out.push_back(
        Wrap(codec::StochasticRound(v * field_scale, uniform()), e.params.bits));
  }
  return out;
}

absl::StatusOr<DecodedUpdateSum> DecodeUpdateSum(
    const UpdateEncoding& e, absl::Span<const uint64_t> sum) {
  if (static_cast<int64_t>(sum.size()) != InputLength(e)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sum has ", sum.size(), " values, expected ", InputLength(e)));
  }
  COHORT_ASSIGN_OR_RETURN(codec::Encoder encoder,
                          codec::Encoder::Create(e.params, e.dimension));
  DecodedUpdateSum out;
  const size_t field_begin = sum.size() - FieldLength(e.field);
  const size_t delta_end = field_begin - kExtraCoordinates;
  COHORT_ASSIGN_OR_RETURN(out.weighted_delta_sum,
                          encoder.DecodeSum(sum.subspan(0, delta_end)));
  const int bits = e.params.bits;
  const uint64_t limit = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  for (size_t i = delta_end; i < sum.size(); ++i) {
    if (sum[i] > limit) return absl::InvalidArgumentError("sum value out of range");
  }
  const uint64_t loss = sum[delta_end], count = sum[delta_end + 1],
                 clipped = sum[delta_end + 2];
  out.capped_examples = Signed(count, bits);
  if (out.capped_examples < 1) {
    return absl::InvalidArgumentError("the summed example count is not positive");
  }
  out.clipped_updates = Signed(clipped, bits);
  if (out.clipped_updates < 0 || out.clipped_updates > out.capped_examples) {
    return absl::InvalidArgumentError("the summed clipped count is out of range");
  }
  out.weight_sum = static_cast<double>(out.capped_examples) /
                   static_cast<double>(e.example_cap);
  out.mean_loss =
      static_cast<double>(Signed(loss, bits)) / e.loss_scale / out.weight_sum;
  const double field_scale = FieldScale(e);
  out.field_sum.reserve(sum.size() - field_begin);
  for (size_t i = field_begin; i < sum.size(); ++i) {
    out.field_sum.push_back(static_cast<double>(Signed(sum[i], bits)) /
                            field_scale);
  }
  return out;
}

absl::StatusOr<DecodedUpdateSum> AddDecodedSums(DecodedUpdateSum a,
                                                const DecodedUpdateSum& b) {
  if (a.weighted_delta_sum.size() != b.weighted_delta_sum.size() ||
      a.field_sum.size() != b.field_sum.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure sums of different layouts: ", a.weighted_delta_sum.size(), "+",
        a.field_sum.size(), " and ", b.weighted_delta_sum.size(), "+",
        b.field_sum.size(), " values"));
  }
  for (size_t i = 0; i < a.weighted_delta_sum.size(); ++i) {
    a.weighted_delta_sum[i] += b.weighted_delta_sum[i];
  }
  for (size_t i = 0; i < a.field_sum.size(); ++i) a.field_sum[i] += b.field_sum[i];
  const double weight = a.weight_sum + b.weight_sum;
  a.mean_loss = (a.mean_loss * a.weight_sum + b.mean_loss * b.weight_sum) / weight;
  a.weight_sum = weight;
  a.capped_examples += b.capped_examples;
  a.clipped_updates += b.clipped_updates;
  return a;
}

}  // namespace cohort::secagg
