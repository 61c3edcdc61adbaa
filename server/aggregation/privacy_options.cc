#include "server/aggregation/privacy_options.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/privacy/rdp_accountant.h"

namespace cohort::server {
privacy::DistributedDiscreteGaussian DistributedMechanismOf(
    const secagg::UpdateEncoding& e, int min_contributors) {
  const double padded = static_cast<double>(secagg::EncodedDeltaLength(e));
  const double l2 = e.rounding_bound;
  return {.local_stddev = e.noise_stddev,
          .num_devices = min_contributors,
          .l2_sensitivity = l2,
          .l1_sensitivity = std::min(std::sqrt(padded) * l2, l2 * l2),
          .dimension = static_cast<int64_t>(padded)};
}

double SpentEpsilon(const PrivacyOptions& options, int64_t rounds) {
  if (!options.enabled || rounds <= 0) return 0.0;
  if (!options.distributed) {
    return privacy::SubsampledGaussianEpsilon(
        options.sampling_rate, options.noise_multiplier, rounds, options.delta);
  }
  if (!options.distributed_mechanism.has_value()) {
    return std::numeric_limits<double>::infinity();
  }
  privacy::RdpAccountant accountant;
  accountant.ComposeSubsampledDistributedDiscreteGaussian(
      options.sampling_rate, *options.distributed_mechanism, rounds);
  return accountant.Epsilon(options.delta).epsilon;
}

bool BudgetSpent(const PrivacyOptions& options, int64_t rounds) {
  if (!options.enabled || !options.target_epsilon.has_value()) return false;
  return SpentEpsilon(options, rounds + 1) > *options.target_epsilon;
}

}  // namespace cohort::server
