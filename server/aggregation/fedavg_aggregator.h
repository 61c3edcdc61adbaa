#ifndef COHORT_SERVER_AGGREGATION_FEDAVG_AGGREGATOR_H_
#define COHORT_SERVER_AGGREGATION_FEDAVG_AGGREGATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::server {

// Streaming FedAvg: keeps one running sum, in double precision, of the
// example-weighted deltas, so memory is O(model size) whatever the number of
// clients. Accumulation order does not change the result beyond double
// rounding.
//
// Not thread-safe. The owner feeds validated deltas (model::ValidateDelta)
// with Accumulate() and consumes the aggregator once with MeanDelta(); the
// ServerOptimizer turns that into new weights.
class FedAvgAggregator {
 public:
  // `model` fixes the layout every delta must have.
  explicit FedAvgAggregator(const cohort::v1::Weights& model);

  // Adds num_examples * delta. INVALID_ARGUMENT if num_examples <= 0 or the
  // delta's layout differs from the model's (callers validate first; this is
  // the last line of defence).
  absl::Status Accumulate(const cohort::v1::Weights& delta,
                          int64_t num_examples);

  int64_t num_clients() const { return num_clients_; }
  int64_t total_examples() const { return total_examples_; }

  // Returns the example-weighted mean delta, laid out like `model`.
  // FAILED_PRECONDITION if nothing was accumulated.
  absl::StatusOr<cohort::v1::Weights> MeanDelta(
      const cohort::v1::Weights& model) &&;

 private:
  std::vector<std::vector<double>> sums_;
  int64_t num_clients_ = 0;
  int64_t total_examples_ = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_FEDAVG_AGGREGATOR_H_
