#ifndef COHORT_SERVER_ROUND_REPORT_SIZE_H_
#define COHORT_SERVER_ROUND_REPORT_SIZE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "cohort/v1/model.pb.h"
#include "server/round/round_options.h"

namespace cohort::server {

// Largest Participate message a coordinator accepts when the config leaves
// max_message_bytes at 0. The simulator applies the same limit, so a task
// that a fleet cannot run fails in simulation too.
constexpr int64_t kDefaultMaxMessageBytes = int64_t{16} << 20;

// Bytes of the largest message one device sends in a round of a model with
// these weights: the fp32 delta (a Report) in a plain round, the packed
// masked input at the SecAgg+ modulus in a secure one, plus 64 KiB for
// names, framing and the other fields.
int64_t LargestReportBytes(const cohort::v1::Weights& weights,
                           const RoundOptions& options);

// INVALID_ARGUMENT naming `field`, the model's size and the fix when a
// device's report of `weights` would exceed `max_message_bytes`: such a task
// would abandon every round on a real fleet. Checked once at start-up.
absl::Status CheckReportFits(const cohort::v1::Weights& weights,
                             const RoundOptions& options,
                             int64_t max_message_bytes, const char* field);

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_REPORT_SIZE_H_
