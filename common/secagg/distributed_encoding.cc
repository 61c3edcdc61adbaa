#include "common/secagg/distributed_encoding.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/bisect.h"
#include "common/base/status_macros.h"
#include "common/codec/hadamard.h"
#include "common/privacy/discrete_gaussian.h"

namespace cohort::secagg {
namespace {

// ceil(log2(n)) for n >= 1.
int HeadroomBits(int n) {
  int bits = 0;
  while ((int64_t{1} << bits) < n) ++bits;
  return bits;
}

constexpr int kMaxRoundings = 100;
// Standard deviations of the noisy sum the modulus holds.
constexpr double kStddevsInModulus = 4.0;

}  // namespace

double RoundedNormBound(double norm, int64_t dimension) {
  const double d = static_cast<double>(dimension);
  return std::sqrt(norm * norm + d / 4 + norm + std::sqrt(d) / 2);
}

absl::StatusOr<UpdateEncoding> PlanDistributedEncoding(
    int bits_per_coordinate, double clip_norm, uint64_t rotation_seed,
    int64_t dimension, int num_clients, int min_contributors,
    double noise_multiplier) {
  if (bits_per_coordinate < 2 || bits_per_coordinate > 30 ||
      min_contributors < 1 || num_clients < min_contributors ||
      !(clip_norm > 0) || !std::isfinite(clip_norm) ||
      !(noise_multiplier > 0) || !std::isfinite(noise_multiplier) ||
      dimension < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no distributed DP encoding for ", bits_per_coordinate, " bits, ",
        num_clients, " clients (at least ", min_contributors,
        "), clip norm ", clip_norm, ", noise multiplier ", noise_multiplier));
  }
  const int bits = bits_per_coordinate + HeadroomBits(num_clients);
  if (bits > 62) {
    return absl::InvalidArgumentError("the modulus would exceed 62 bits");
  }
  const int64_t padded = codec::NextPowerOfTwo(dimension);
  const double n = num_clients;
  const double root_d = std::sqrt(static_cast<double>(padded));
  const double root_m = std::sqrt(static_cast<double>(min_contributors));
  // One coordinate's standard deviation in the noisy sum at scale s: the
  // inputs aligned (the worst case), their noise, and their rounding.
  auto stddev = [&](double s) {
    const double local =
        noise_multiplier * RoundedNormBound(clip_norm * s, padded) / root_m;
    const double signal = n * clip_norm * s / root_d;
    return std::sqrt(signal * signal + n * local * local + n / 4);
  };
  const double room = (std::ldexp(1.0, bits - 1) - 2) / kStddevsInModulus;
  double lo = 1e-12;
  double hi = 1e15;
  if (stddev(lo) > room) {
    return absl::InvalidArgumentError(absl::StrCat(
        bits_per_coordinate, " bits per coordinate cannot hold the noise of ",
        num_clients, " devices in ", padded, " coordinates"));
  }
  // The largest scale whose sum fits (hi itself when even that does).
  lo = stddev(hi) <= room
           ? hi
           : base::BisectGeometric(lo, hi, 1e-9, [&](double s) {
               return stddev(s) <= room;
             }).lo;
  UpdateEncoding e;
  e.dimension = dimension;
  e.example_cap = 1;
  e.params.clip_norm = clip_norm;
  e.params.rotate = true;
  e.params.rotation_seed = rotation_seed;
  e.params.scale = lo;
  e.params.bits = bits;
  e.loss_scale = 1.0;
  e.rounding_bound = RoundedNormBound(clip_norm * lo, padded);
  e.noise_stddev = noise_multiplier * e.rounding_bound / root_m;
  COHORT_RETURN_IF_ERROR(ValidateUpdateEncoding(e));
  return e;
}

absl::StatusOr<std::vector<uint64_t>> EncodeNoisyDelta(
    const codec::Encoder& encoder, const UpdateEncoding& e,
    absl::Span<const float> weighted, codec::UniformSource uniform,
    absl::FunctionRef<double()> noise) {
  for (int attempt = 0; attempt < kMaxRoundings; ++attempt) {
    COHORT_ASSIGN_OR_RETURN(std::vector<int64_t> r,
                            encoder.Round(weighted, uniform));
    double sq = 0;
    for (int64_t v : r) sq += static_cast<double>(v) * static_cast<double>(v);
    if (std::sqrt(sq) > e.rounding_bound) continue;
    for (int64_t& v : r) {
      COHORT_ASSIGN_OR_RETURN(const int64_t n,
                              privacy::SampleDiscreteGaussian(e.noise_stddev, noise));
      v += n;
    }
    return encoder.Wrap(r);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "conditional rounding exceeded the bound ", e.rounding_bound, " ",
      kMaxRoundings, " times"));
}

}  // namespace cohort::secagg
