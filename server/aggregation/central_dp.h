#ifndef COHORT_SERVER_AGGREGATION_CENTRAL_DP_H_
#define COHORT_SERVER_AGGREGATION_CENTRAL_DP_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "common/privacy/noise_source.h"
#include "server/aggregation/privacy_options.h"

namespace cohort::server {

// The 32-byte seed of round `round_id`'s noise: from options.noise_seed, or
// from OpenSSL. INTERNAL if OpenSSL fails.
absl::StatusOr<std::array<uint8_t, 32>> NoiseSeed(
    const PrivacyOptions& options, int64_t round_id);

// Adds N(0, stddev^2) to every value of `mean`. Errors from `noise`.
absl::Status AddNoise(cohort::v1::Weights& mean, double stddev,
                      privacy::NoiseSource& noise);

// count + N(0, stddev^2), rounded and clamped into [0, total]. Errors from
// `noise`.
absl::StatusOr<int64_t> NoisyCount(int64_t count, int64_t total, double stddev,
                                   privacy::NoiseSource& noise);

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_CENTRAL_DP_H_
