#ifndef COHORT_SERVER_AGGREGATION_UPDATE_AGGREGATOR_H_
#define COHORT_SERVER_AGGREGATION_UPDATE_AGGREGATOR_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::server {

// How a plain round turns its accepted (validated, clipped) updates into the
// mean delta the server optimizer applies: FedAvg's weighted mean
// (FedAvgAggregator) or a robust aggregator (RobustAggregator).
//
// Not thread-safe. The owner feeds validated deltas (model::ValidateDelta)
// with Accumulate() and consumes the aggregator once with MeanDelta().
class UpdateAggregator {
 public:
  virtual ~UpdateAggregator() = default;

  // Adds one device's delta, trained on num_examples examples.
  // INVALID_ARGUMENT if num_examples <= 0 or the delta's layout differs
  // from the model's (callers validate first; this is the last line of
  // defence).
  virtual absl::Status Accumulate(const cohort::v1::Weights& delta,
                                  int64_t num_examples) = 0;

  virtual int64_t num_clients() const = 0;
  virtual int64_t total_examples() const = 0;

  // The round's mean delta, laid out like `model`. FAILED_PRECONDITION if
  // nothing (or too little for the rule) was accumulated.
  virtual absl::StatusOr<cohort::v1::Weights> MeanDelta(
      const cohort::v1::Weights& model) && = 0;
};

// Element counts of `model`'s tensors, in order.
std::vector<size_t> TensorSizes(const cohort::v1::Weights& model);

// INVALID_ARGUMENT unless `delta` has tensors of exactly `sizes` elements.
absl::Status CheckLayout(const cohort::v1::Weights& delta,
                         const std::vector<size_t>& sizes);

// `model` with its values replaced, tensor by tensor in order, by `flat`
// (as float). INVALID_ARGUMENT if the element counts differ.
absl::StatusOr<cohort::v1::Weights> WithValues(const cohort::v1::Weights& model,
                                               std::span<const double> flat);

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_UPDATE_AGGREGATOR_H_
