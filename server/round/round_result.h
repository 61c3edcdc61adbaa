#ifndef COHORT_SERVER_ROUND_ROUND_RESULT_H_
#define COHORT_SERVER_ROUND_ROUND_RESULT_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "cohort/v1/model.pb.h"
#include "common/secagg/field_encoding.h"
#include "server/round/published_model.h"

namespace cohort::server {

// What one round hands to its commit: the example-weighted FedAvg mean of
// the updates it aggregated and the counts that go with it. A plain round
// builds it from its reports (PlainResult in round_context.h), a secure
// round from the decoded SecAgg+ sum (AggregatingState); both set it on the
// round's context before entering Committing, and the engine moves it to
// RoundCommitter::Commit in one piece. The commit path never asks which
// kind of round produced it.
//
// A plain value: movable and copyable, not synchronized. `parent` is shared
// read-only with the engine and RPC reactors.
struct RoundResult {
  // The round that produced it.
  int64_t round_id = 0;
  // The version the round's devices trained from; the new version's parent.
  std::shared_ptr<const PublishedModel> parent;
  // Example-weighted mean of the updates, laid out like parent->weights.
  cohort::v1::Weights mean_delta;
  // Examples behind the mean (for a secure round, the sum of the capped
  // counts the devices summed securely).
  int64_t examples = 0;
  // Devices whose update is in the mean.
  int64_t participants = 0;
  // Example-weighted mean of the devices' train losses.
  double mean_loss = 0.0;
  // Of the participants, the updates clipping changed; nullopt when the
  // round does not clip (plain aggregation has no clip norm).
  std::optional<int64_t> clipped;
  // A secure round's field statistics, decoded from its sum: the devices'
  // evaluations of `parent` (plain rounds record each report as it comes).
  std::optional<secagg::FieldMean> field;
  // The factor that turns mean_delta's running statistics from update units
  // back into their own (StatisticsUnits; model/running_statistics.h), once
  // any DP noise is added; 1 after that, or without statistics.
  double statistics_units = 1.0;

  // clipped / participants; NaN when the round does not clip or has no
  // participants.
  double clipped_fraction() const {
    if (!clipped.has_value() || participants <= 0) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    return static_cast<double>(*clipped) / static_cast<double>(participants);
  }
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ROUND_RESULT_H_
