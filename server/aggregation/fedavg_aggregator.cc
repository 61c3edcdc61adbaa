#include "server/aggregation/fedavg_aggregator.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::server {

FedAvgAggregator::FedAvgAggregator(const cohort::v1::Weights& model) {
  sums_.reserve(model.tensors_size());
  for (const auto& t : model.tensors()) {
    sums_.emplace_back(static_cast<size_t>(model::ElementCount(t)), 0.0);
  }
}

absl::Status FedAvgAggregator::Accumulate(const cohort::v1::Weights& delta,
                                          int64_t num_examples) {
  if (num_examples <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_examples must be > 0, got ", num_examples));
  }
  if (delta.tensors_size() != static_cast<int>(sums_.size())) {
    return absl::InvalidArgumentError("update layout differs from the model");
  }
  for (size_t i = 0; i < sums_.size(); ++i) {
    auto values = model::FloatView(delta.tensors(static_cast<int>(i)));
    if (values.size() != sums_[i].size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", i, " size differs from the model"));
    }
  }
  const double w = static_cast<double>(num_examples);
  for (size_t i = 0; i < sums_.size(); ++i) {
    auto values = model::FloatView(delta.tensors(static_cast<int>(i)));
    std::vector<double>& sum = sums_[i];
    for (size_t j = 0; j < sum.size(); ++j) sum[j] += w * values[j];
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
  if (model.tensors_size() != static_cast<int>(sums_.size())) {
    return absl::InvalidArgumentError("model layout changed during the round");
  }
  cohort::v1::Weights out = model;
  const double inv = 1.0 / static_cast<double>(total_examples_);
  std::vector<float> buffer;
  for (size_t i = 0; i < sums_.size(); ++i) {
    buffer.resize(sums_[i].size());
    for (size_t j = 0; j < buffer.size(); ++j) {
      buffer[j] = static_cast<float>(sums_[i][j] * inv);
    }
    model::SetFloatData(buffer, out.mutable_tensors(static_cast<int>(i)));
  }
  return out;
}

}  // namespace cohort::server
