#ifndef COHORT_SERVER_ROUND_ROUND_PRIVACY_H_
#define COHORT_SERVER_ROUND_ROUND_PRIVACY_H_

#include "absl/status/status.h"
#include "server/aggregation/central_dp.h"
#include "server/aggregation/privacy_options.h"
#include "server/round/round_result.h"

namespace cohort::server {

// Central differential privacy on a round's result, once, before it is
// committed (DP-FedAvg, McMahan et al. 2018). `result` is the mean of
// `participants` updates, each clipped to `clip_norm` and weighing 1, so
// noise N(0, (z_update clip_norm)^2) on their sum is, on the mean:
//
//   mean_delta += N(0, (z_update * clip_norm / participants)^2) per value;
//   clipped     = round(clipped + N(0, sigma_b^2)), clamped to
//                 [0, participants] (adaptive clipping only);
//   mean_loss   = NaN (the un-noised loss is not released).
//
// Under distributed DP only the loss is withheld: the noise is in the sum.
// Nothing when options.enabled is false. FAILED_PRECONDITION for a result
// without participants; INTERNAL if the noise source fails (the result is
// then unusable and must not be committed).
absl::Status Privatize(const PrivacyOptions& options, double clip_norm,
                       RoundResult& result);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_PRIVACY_H_
