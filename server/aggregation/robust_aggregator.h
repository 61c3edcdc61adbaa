#ifndef COHORT_SERVER_AGGREGATION_ROBUST_AGGREGATOR_H_
#define COHORT_SERVER_AGGREGATION_ROBUST_AGGREGATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"
#include "server/aggregation/update_aggregator.h"

namespace cohort::server {

// RoundConfig.aggregator and .robust, resolved (ResolveRoundOptions).
struct RobustOptions {
  enum class Rule { kTrimmedMean, kMedian, kMultiKrum };
  Rule rule = Rule::kTrimmedMean;
  // kTrimmedMean: beta in (0, 0.5), the share cut at each end.
  double trim_fraction = 0.1;
  // kMultiKrum: f >= 0, the malicious devices tolerated, and m >= 0, the
  // updates averaged (0: n - f).
  int byzantine_devices = 0;
  int krum_selected = 0;
};

// "trimmed_mean", "median", "multi_krum".
const char* RuleName(RobustOptions::Rule rule);

// Aggregators that bound what a minority of malicious devices can do to
// the mean delta, for plain rounds (they need every update in the clear).
// Each device counts once, whatever its num_examples. With n updates and
// d coordinates:
//
//   kTrimmedMean  per coordinate, the mean of the values left after the
//                 floor(beta * n) largest and smallest are cut (Yin et al.
//                 2018, "Byzantine-Robust Distributed Learning: Towards
//                 Optimal Statistical Rates"). O(n d) time.
//   kMedian       per coordinate, the median (the mean of the two middle
//                 values for even n), same paper. O(n d) time.
//   kMultiKrum    each update is scored by the sum of its squared L2
//                 distances to its n - f - 2 nearest others; the m updates
//                 with the lowest scores are averaged (Blanchard et al.
//                 2017, "Machine Learning with Adversaries: Byzantine
//                 Tolerant Gradient Descent", Multi-Krum). O(n^2 d) time.
//                 Needs n >= 2f + 3.
//
// Memory is every update: n * d floats. Not thread-safe.
class RobustAggregator final : public UpdateAggregator {
 public:
  RobustAggregator(const cohort::v1::Weights& model,
                   const RobustOptions& options);

  absl::Status Accumulate(const cohort::v1::Weights& delta,
                          int64_t num_examples) override;
  int64_t num_clients() const override {
    return static_cast<int64_t>(updates_.size());
  }
  int64_t total_examples() const override { return total_examples_; }
  // FAILED_PRECONDITION with no update, or for kMultiKrum with fewer than
  // 2f + 3.
  absl::StatusOr<cohort::v1::Weights> MeanDelta(
      const cohort::v1::Weights& model) && override;

 private:
  // Per coordinate: the trimmed mean or median of the n values.
  std::vector<double> CoordinateWise() const;
  absl::StatusOr<std::vector<double>> MultiKrum() const;

  const RobustOptions options_;
  const std::vector<size_t> sizes_;
  // Each update's coordinates, the tensors laid end to end.
  std::vector<std::vector<float>> updates_;
  int64_t total_examples_ = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_ROBUST_AGGREGATOR_H_
