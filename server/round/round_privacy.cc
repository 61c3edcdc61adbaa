#include "server/round/round_privacy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/flat_weights.h"
#include "common/secagg/secure_update.h"

namespace cohort::server {

absl::Status Privatize(const PrivacyOptions& options, double sensitivity,
                       RoundResult& result) {
  if (!options.enabled) return absl::OkStatus();
  // The un-noised loss is not released.
  result.mean_loss = std::numeric_limits<double>::quiet_NaN();
  // Distributed DP: the devices' noise is already in the sum, and the
  // devices send no clipped bit.
  if (options.distributed) {
    result.clipped.reset();
    return absl::OkStatus();
  }
  if (result.participants <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round ", result.round_id, " has no participants to add noise for"));
  }
  COHORT_ASSIGN_OR_RETURN(auto seed, NoiseSeed(options, result.round_id));
  COHORT_ASSIGN_OR_RETURN(privacy::NoiseSource noise,
                          privacy::NoiseSource::Create(seed));
  const double n = static_cast<double>(result.participants);
  COHORT_RETURN_IF_ERROR(AddNoise(
      result.mean_delta, options.update_noise_multiplier * sensitivity / n,
      noise));
  if (options.clipped_count_stddev > 0 && result.clipped.has_value()) {
    COHORT_ASSIGN_OR_RETURN(
        result.clipped, NoisyCount(*result.clipped, result.participants,
                                   options.clipped_count_stddev, noise));
  } else {
    // Without its own noise the clipped count is not released.
    result.clipped.reset();
  }
  return absl::OkStatus();
}


double UpdateSensitivity(const RoundOptions& o, double clip_norm,
                         int64_t dimension) {
  if (!o.secagg.enabled) return clip_norm;
  auto encoding = secagg::PlanUpdateEncoding(
      o.secagg.bits_per_coordinate, clip_norm, o.secagg.rotate,
      /*rotation_seed=*/0, o.secagg.example_cap, dimension,
      std::max(o.selection_target(), 1));
  if (!encoding.ok()) return clip_norm;
  // Stochastic rounding moves each encoded coordinate by less than one
  // quantum, 1 / scale: the L2 norm by less than sqrt(padded) / scale.
  const double padded =
      static_cast<double>(secagg::EncodedDeltaLength(*encoding));
  return clip_norm + std::sqrt(padded) / encoding->params.scale;
}

absl::StatusOr<secagg::DecodedUpdateSum> CheckPrivateSum(
    const RoundOptions& o, int64_t contributors, secagg::DecodedUpdateSum sum) {
  if (!o.privacy.enabled) return sum;
  if (contributors < o.privacy.min_contributors) {
    return absl::FailedPreconditionError(absl::StrCat(
        contributors, " inputs carry less noise than distributed DP needs (",
        o.privacy.min_contributors, ")"));
  }
  if (sum.capped_examples != contributors) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the summed count is ", sum.capped_examples, " for ", contributors,
        " inputs that weigh 1 each: a device forged it"));
  }
  return sum;
}

absl::Status PrivatizeRound(const RoundOptions& o, double clip_norm,
                            RoundResult& result) {
  return Privatize(
      o.privacy,
      UpdateSensitivity(o, clip_norm, model::TotalElements(result.mean_delta)),
      result);
}

double ReportedEpsilon(const PrivacyOptions& options, int64_t rounds) {
  if (!options.enabled) return std::numeric_limits<double>::quiet_NaN();
  return SpentEpsilon(options, rounds);
}

std::optional<std::string> BudgetStopReason(const PrivacyOptions& options,
                                            int64_t rounds) {
  if (!BudgetSpent(options, rounds)) return std::nullopt;
  return absl::StrCat("its privacy budget is spent (epsilon ",
                      SpentEpsilon(options, rounds), " after ", rounds,
                      " rounds; one more would exceed ",
                      *options.target_epsilon, " at delta ", options.delta,
                      ")");
}

std::string DescribePrivacy(const PrivacyOptions& p) {
  const std::string noise =
      p.distributed
          ? absl::StrCat("device noise ",
                         p.distributed_mechanism.has_value()
                             ? p.distributed_mechanism->local_stddev
                             : 0.0,
                         " in encoded units, at least ", p.min_contributors,
                         " devices a sum")
          : absl::StrCat(p.update_noise_multiplier, " on the updates");
  return absl::StrCat(
      p.distributed ? "distributed" : "central",
      " differential privacy: noise multiplier ", p.noise_multiplier, " (",
      noise, "), sampling rate ", p.sampling_rate, ", delta ", p.delta,
      ", budget epsilon ",
      p.target_epsilon.has_value() ? absl::StrCat(*p.target_epsilon)
                                   : std::string("none"));
}

}  // namespace cohort::server
