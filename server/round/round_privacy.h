#ifndef COHORT_SERVER_ROUND_ROUND_PRIVACY_H_
#define COHORT_SERVER_ROUND_ROUND_PRIVACY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/secagg/secure_update.h"
#include "server/aggregation/central_dp.h"
#include "server/aggregation/privacy_options.h"
#include "server/round/round_options.h"
#include "server/round/round_result.h"

namespace cohort::server {

// Central differential privacy on a round's result, once, before it is
// committed (DP-FedAvg, McMahan et al. 2018). `result` is the mean of
// `participants` updates, each weighing 1 and of L2 norm at most
// `sensitivity` (UpdateSensitivity), so noise
// N(0, (z_update sensitivity)^2) on their sum is, on the mean:
//
//   mean_delta += N(0, (z_update * sensitivity / participants)^2) per value;
//   clipped     = round(clipped + N(0, sigma_b^2)), clamped to
//                 [0, participants] (adaptive clipping); without count
//                 noise the clipped count is not released (nullopt);
//   mean_loss   = NaN (the un-noised loss is not released).
//
// Under distributed DP only the loss and the clipped count are withheld:
// the noise is in the sum. Nothing when options.enabled is false.
// FAILED_PRECONDITION for a result without participants; INTERNAL if the
// noise source fails (the result is then unusable and must not be
// committed).
absl::Status Privatize(const PrivacyOptions& options, double sensitivity,
                       RoundResult& result);

// The L2 norm one update can add to a round's sum: the clip norm, plus,
// for a secure round, what stochastic rounding to SecAgg+'s integers adds
// (below sqrt(d) quanta for d encoded coordinates).
double UpdateSensitivity(const RoundOptions& o, double clip_norm,
                         int64_t dimension);

// A decoded secure sum, unless differential privacy forbids releasing it:
// FAILED_PRECONDITION for one of fewer inputs than distributed DP's
// min_contributors (it carries less noise than the accountant counts on);
// INVALID_ARGUMENT for one whose count coordinate differs from its inputs,
// each of which weighs exactly 1 under DP (a device forged it to rescale
// the mean, and with it the noise). `sum` itself without DP.
absl::StatusOr<secagg::DecodedUpdateSum> CheckPrivateSum(
    const RoundOptions& o, int64_t contributors, secagg::DecodedUpdateSum sum);

// Privatize with UpdateSensitivity for a round of `o` whose updates were
// clipped to `clip_norm`: what the engine calls once per round.
absl::Status PrivatizeRound(const RoundOptions& o, double clip_norm,
                            RoundResult& result);

// SpentEpsilon, or NaN without differential privacy (metrics.csv's "nan").
double ReportedEpsilon(const PrivacyOptions& options, int64_t rounds);

// Why the task stops after `rounds` noised rounds (BudgetSpent), or nullopt.
std::optional<std::string> BudgetStopReason(const PrivacyOptions& options,
                                            int64_t rounds);

// One line on the task's mechanism, noise and budget, for its log.
std::string DescribePrivacy(const PrivacyOptions& options);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_PRIVACY_H_
