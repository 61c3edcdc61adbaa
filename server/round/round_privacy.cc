#include "server/round/round_privacy.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace cohort::server {

absl::Status Privatize(const PrivacyOptions& options, double clip_norm,
                       RoundResult& result) {
  if (!options.enabled) return absl::OkStatus();
  // The un-noised loss is not released.
  result.mean_loss = std::numeric_limits<double>::quiet_NaN();
  // Distributed DP: the devices' noise is already in the sum.
  if (options.distributed) return absl::OkStatus();
  if (result.participants <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round ", result.round_id, " has no participants to add noise for"));
  }
  COHORT_ASSIGN_OR_RETURN(auto seed, NoiseSeed(options, result.round_id));
  COHORT_ASSIGN_OR_RETURN(privacy::NoiseSource noise,
                          privacy::NoiseSource::Create(seed));
  const double n = static_cast<double>(result.participants);
  COHORT_RETURN_IF_ERROR(AddNoise(
      result.mean_delta, options.update_noise_multiplier * clip_norm / n, noise));
  if (options.clipped_count_stddev > 0 && result.clipped.has_value()) {
    COHORT_ASSIGN_OR_RETURN(
        result.clipped, NoisyCount(*result.clipped, result.participants,
                                   options.clipped_count_stddev, noise));
  }
  return absl::OkStatus();
}

}  // namespace cohort::server
