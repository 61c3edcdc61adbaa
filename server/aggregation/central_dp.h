#ifndef COHORT_SERVER_AGGREGATION_CENTRAL_DP_H_
#define COHORT_SERVER_AGGREGATION_CENTRAL_DP_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "common/privacy/gaussian_noise.h"

namespace cohort::server {

// RoundConfig.differential_privacy with defaults applied and values checked
// (ResolveRoundOptions). DP-FedAvg (McMahan et al. 2018) at the
// coordinator: every device weighs 1, and the sum of the round's updates,
// each clipped to C, gets N(0, (z_update C)^2) per coordinate.
struct CentralDpOptions {
  bool enabled = false;
  // z: what one round spends, as the accountant sees it.
  double noise_multiplier = 0.0;
  // The share of z on the updates: z itself with a fixed clip bound; with
  // adaptive clipping (z^-2 - (2 sigma_b)^-2)^(-1/2) (Andrew et al. 2021,
  // Section 3.1), the rest being spent on the clipped count.
  double update_noise_multiplier = 0.0;
  // sigma_b: the noise on the count of clipped updates; 0 without adaptive
  // clipping.
  double clipped_count_stddev = 0.0;
  // The budget; nullopt: none.
  std::optional<double> target_epsilon;
  double delta = 1e-5;
  // q: devices a round may aggregate over the population.
  double sampling_rate = 1.0;
  // The simulator's: seeds each round's noise from (seed, round) so that
  // runs repeat. Unset (production): fresh from OpenSSL's DRBG each round.
  std::optional<uint64_t> noise_seed;
};

// Epsilon at options.delta after `rounds` noised rounds; 0 when disabled or
// rounds <= 0.
double SpentEpsilon(const CentralDpOptions& options, int64_t rounds);

// True when one more round would take the task past its budget.
bool BudgetSpent(const CentralDpOptions& options, int64_t rounds);

// The 32-byte seed of round `round_id`'s noise: from options.noise_seed, or
// from OpenSSL. INTERNAL if OpenSSL fails.
absl::StatusOr<std::array<uint8_t, 32>> NoiseSeed(
    const CentralDpOptions& options, int64_t round_id);

// Adds N(0, stddev^2) to every value of `mean`. Errors from `noise`.
absl::Status AddNoise(cohort::v1::Weights& mean, double stddev,
                      privacy::GaussianNoise& noise);

// count + N(0, stddev^2), rounded and clamped into [0, total]. Errors from
// `noise`.
absl::StatusOr<int64_t> NoisyCount(int64_t count, int64_t total, double stddev,
                                   privacy::GaussianNoise& noise);

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_CENTRAL_DP_H_
