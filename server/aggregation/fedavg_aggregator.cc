#include "server/aggregation/fedavg_aggregator.h"

#include <algorithm>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/parallel_for.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::server {

namespace {

// Coordinates below which one thread adds a delta faster than several can
// start (a thread costs tens of microseconds; this is about that much work).
constexpr size_t kParallelFrom = size_t{1} << 18;

// y[i] += w * x[i]: a loop the compiler vectorizes.
void AddScaled(const float* __restrict x, size_t n, double w,
               double* __restrict y) {
  for (size_t i = 0; i < n; ++i) y[i] += w * static_cast<double>(x[i]);
}

}  // namespace

FedAvgAggregator::FedAvgAggregator(const cohort::v1::Weights& model,
                                   int threads)
    : sizes_(TensorSizes(model)), threads_(std::max(threads, 1)) {
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
  std::vector<std::span<const float>> views;
  views.reserve(delta.tensors_size());
  for (const auto& t : delta.tensors()) views.push_back(model::FloatView(t));
  // Task i adds coordinates [i * chunk, (i + 1) * chunk) of the whole
  // vector, across tensor boundaries.
  const int tasks = sum_.size() < kParallelFrom ? 1 : threads_;
  const size_t chunk = (sum_.size() + tasks - 1) / tasks;
  base::ParallelFor(tasks, tasks, [&](int i) {
    const size_t lo = i * chunk, hi = std::min(sum_.size(), lo + chunk);
    size_t start = 0;  // of the current tensor in sum_
    for (const auto& v : views) {
      const size_t end = start + v.size();
      const size_t a = std::max(lo, start), b = std::min(hi, end);
      if (a < b) AddScaled(v.data() + (a - start), b - a, w, sum_.data() + a);
      start = end;
    }
  });
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
