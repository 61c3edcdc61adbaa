#ifndef COHORT_SERVER_AGGREGATION_PRIVACY_OPTIONS_H_
#define COHORT_SERVER_AGGREGATION_PRIVACY_OPTIONS_H_

#include <cstdint>
#include <optional>

#include "common/privacy/rdp_accountant.h"
#include "common/secagg/secure_update.h"

namespace cohort::server {

// RoundConfig.differential_privacy with defaults applied and values checked
// (ResolveRoundOptions, then PlanDistributedPrivacy for the distributed
// mechanism). Every device weighs 1 and every update is clipped to C.
//
// Central (DP-FedAvg, McMahan et al. 2018): the coordinator adds
// N(0, (z_update C)^2) per coordinate to the round's sum (central_dp.h).
// Distributed (Kairouz, Liu, Steinke 2021): each device adds discrete
// Gaussian noise to its SecAgg+ input (secagg::PlanDistributedEncoding), so
// the coordinator only ever sees a noisy sum.
struct PrivacyOptions {
  bool enabled = false;
  bool distributed = false;
  // z: what one round spends, as the accountant sees it.
  double noise_multiplier = 0.0;
  // Central: the share of z on the updates: z itself with a fixed clip
  // bound; with adaptive clipping (z^-2 - (2 sigma_b)^-2)^(-1/2) (Andrew et
  // al. 2021, Section 3.1), the rest being spent on the clipped count.
  double update_noise_multiplier = 0.0;
  // Central, adaptive clipping only: sigma_b, the noise on the count of
  // clipped updates; 0 otherwise.
  double clipped_count_stddev = 0.0;
  // The budget; nullopt: none.
  std::optional<double> target_epsilon;
  double delta = 1e-5;
  // q: devices a round may aggregate over the population.
  double sampling_rate = 1.0;
  // Central, the simulator's: seeds each round's noise from (seed, round)
  // so that runs repeat. Unset (production): fresh from OpenSSL's DRBG.
  std::optional<uint64_t> noise_seed;
  // Distributed: the fewest inputs a round's sum may have (min_reports); a
  // sum of fewer carries too little noise and is not released.
  int min_contributors = 0;
  // Distributed: what one round's noisy sum is to the accountant, from the
  // SecAgg+ encoding PlanDistributedPrivacy planned for the model's
  // dimension (DistributedMechanismOf); nullopt until then.
  std::optional<privacy::DistributedDiscreteGaussian> distributed_mechanism;
  // Distributed: the rounds the budget must last, for deriving z then.
  int64_t planned_rounds = 0;
};

// The distributed discrete Gaussian that `encoding` (from
// secagg::PlanDistributedEncoding) applies when at least min_contributors
// inputs are summed: their L2 sensitivity is the rounding bound, their L1
// sensitivity the smaller of sqrt(d) and the rounding bound times it (an
// integer vector's L1 norm is at most its squared L2 norm), d the padded
// dimension.
privacy::DistributedDiscreteGaussian DistributedMechanismOf(
    const secagg::UpdateEncoding& encoding, int min_contributors);

// Epsilon at options.delta after `rounds` noised rounds: the
// Poisson-subsampled Gaussian (central) or the subsampled distributed
// discrete Gaussian over min_contributors devices (distributed), from
// common/privacy/rdp_accountant.h. 0 when disabled or rounds <= 0; +inf for
// the distributed mechanism before its encoding is planned.
double SpentEpsilon(const PrivacyOptions& options, int64_t rounds);

// True when one more round would take the task past its budget.
bool BudgetSpent(const PrivacyOptions& options, int64_t rounds);

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_PRIVACY_OPTIONS_H_
