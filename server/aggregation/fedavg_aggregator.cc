#include "server/aggregation/fedavg_aggregator.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::server {

FedAvgAggregator::FedAvgAggregator(const cohort::v1::Weights& model)
    : sizes_(TensorSizes(model)) {
  size_t total = 0;
  for (size_t n : sizes_) total += n;
  sum_.assign(total, 0.0);
}

absl::Status FedAvgAggregator::Accumulate(const cohort::v1::Weights& delta,
                                          int64_t num_examples) {
  if (num_examples <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_examples must be > 0, got ", num_examples));
  }
  COHORT_RETURN_IF_ERROR(CheckLayout(delta, sizes_));
  const double w = static_cast<double>(num_examples);
  size_t at = 0;
  for (const auto& t : delta.tensors()) {
    for (float v : model::FloatView(t)) sum_[at++] += w * v;
  }
  ++num_clients_;
  total_examples_ += num_examples;
  return absl::OkStatus();
}

absl::StatusOr<cohort::v1::Weights> FedAvgAggregator::MeanDelta(
    const cohort::v1::Weights& model) && {
  if (total_examples_ == 0) {
    return absl::FailedPreconditionError("no updates were aggregated");
  }
  const double inv = 1.0 / static_cast<double>(total_examples_);
  for (double& v : sum_) v *= inv;
  return WithValues(model, sum_);
}

}  // namespace cohort::server
