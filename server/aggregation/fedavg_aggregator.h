#ifndef COHORT_SERVER_AGGREGATION_FEDAVG_AGGREGATOR_H_
#define COHORT_SERVER_AGGREGATION_FEDAVG_AGGREGATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "server/aggregation/update_aggregator.h"

namespace cohort::server {

// Streaming FedAvg: keeps one running sum, in double precision, of the
// example-weighted deltas, so memory is O(model size) whatever the number of
// clients. Accumulation order does not change the result beyond double
// rounding.
//
// MeanDelta() is sum_i n_i delta_i / sum_i n_i, n_i being num_examples.
//
// A large model's deltas are added on `threads` threads, each over its own
// range of coordinates (the result does not depend on the thread count):
// one update reaches memory bandwidth instead of one core's add rate
// (bench/aggregation_bench: aggregate_vs_memcpy).
class FedAvgAggregator final : public UpdateAggregator {
 public:
  // `model` fixes the layout every delta must have.
  explicit FedAvgAggregator(const cohort::v1::Weights& model, int threads = 1);

  absl::Status Accumulate(const cohort::v1::Weights& delta,
                          int64_t num_examples) override;

  int64_t num_clients() const override { return num_clients_; }
  int64_t total_examples() const override { return total_examples_; }

  absl::StatusOr<cohort::v1::Weights> MeanDelta(
      const cohort::v1::Weights& model) && override;

 private:
  std::vector<size_t> sizes_;
  int threads_;
  // sum_i n_i delta_i, the tensors laid end to end.
  std::vector<double> sum_;
  int64_t num_clients_ = 0;
  int64_t total_examples_ = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_FEDAVG_AGGREGATOR_H_
