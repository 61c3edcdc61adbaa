#include "server/aggregation/robust_aggregator.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::server {
namespace {

// The mean of the values of ranks lo..hi-1 (values is reordered).
double MeanOfRanks(std::vector<float>& values, size_t lo, size_t hi) {
  // [lo, n) becomes the n - lo largest values, then [lo, hi) the hi - lo
  // smallest of those: ranks lo..hi-1, in some order.
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  std::nth_element(values.begin() + lo, values.begin() + (hi - 1),
                   values.end());
  double sum = 0.0;
  for (size_t i = lo; i < hi; ++i) sum += values[i];
  return sum / static_cast<double>(hi - lo);
}

double SquaredDistance(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return sum;
}

}  // namespace

const char* RuleName(RobustOptions::Rule rule) {
  switch (rule) {
    case RobustOptions::Rule::kTrimmedMean: return "trimmed_mean";
    case RobustOptions::Rule::kMedian: return "median";
    case RobustOptions::Rule::kMultiKrum: return "multi_krum";
  }
  return "unknown";
}

RobustAggregator::RobustAggregator(const cohort::v1::Weights& model,
                                   const RobustOptions& options)
    : options_(options), sizes_(TensorSizes(model)) {}

absl::Status RobustAggregator::Accumulate(const cohort::v1::Weights& delta,
                                          int64_t num_examples) {
  if (num_examples <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_examples must be > 0, got ", num_examples));
  }
  COHORT_RETURN_IF_ERROR(CheckLayout(delta, sizes_));
  std::vector<float> flat;
  flat.reserve(std::accumulate(sizes_.begin(), sizes_.end(), size_t{0}));
  for (const auto& t : delta.tensors()) {
    auto values = model::FloatView(t);
    flat.insert(flat.end(), values.begin(), values.end());
  }
  updates_.push_back(std::move(flat));
  total_examples_ += num_examples;
  return absl::OkStatus();
}

std::vector<double> RobustAggregator::CoordinateWise() const {
  const size_t n = updates_.size();
  size_t lo = 0, hi = n;
  if (options_.rule == RobustOptions::Rule::kTrimmedMean) {
    const size_t cut = static_cast<size_t>(options_.trim_fraction *
                                           static_cast<double>(n));
    lo = cut;
    hi = n - cut;  // trim_fraction < 0.5 leaves at least one value
  } else {
    lo = (n - 1) / 2;
    hi = n / 2 + 1;  // one middle value for odd n, two for even n
  }
  std::vector<double> out(updates_.front().size());
  std::vector<float> column(n);
  for (size_t j = 0; j < out.size(); ++j) {
    for (size_t i = 0; i < n; ++i) column[i] = updates_[i][j];
    out[j] = MeanOfRanks(column, lo, hi);
  }
  return out;
}

absl::StatusOr<std::vector<double>> RobustAggregator::MultiKrum() const {
  const size_t n = updates_.size();
  const size_t f = static_cast<size_t>(options_.byzantine_devices);
  if (n < 2 * f + 3) {
    return absl::FailedPreconditionError(
        absl::StrCat("Multi-Krum with f = ", f, " needs at least ", 2 * f + 3,
                     " updates, got ", n));
  }
  std::vector<std::vector<double>> distance(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      distance[i][j] = distance[j][i] = SquaredDistance(updates_[i], updates_[j]);
    }
  }
  const size_t neighbours = n - f - 2;
  std::vector<std::pair<double, size_t>> scores;
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> others;
    for (size_t j = 0; j < n; ++j) {
      if (j != i) others.push_back(distance[i][j]);
    }
    std::partial_sort(others.begin(), others.begin() + neighbours, others.end());
    scores.emplace_back(
        std::accumulate(others.begin(), others.begin() + neighbours, 0.0), i);
  }
  // Ties go to the earlier update, so the choice does not depend on sort
  // stability.
  std::sort(scores.begin(), scores.end());
  const size_t m = options_.krum_selected > 0
                       ? std::min(static_cast<size_t>(options_.krum_selected), n - f)
                       : n - f;
  std::vector<double> out(updates_.front().size(), 0.0);
  for (size_t k = 0; k < m; ++k) {
    const std::vector<float>& u = updates_[scores[k].second];
    for (size_t j = 0; j < out.size(); ++j) out[j] += u[j];
  }
  for (double& v : out) v /= static_cast<double>(m);
  return out;
}

absl::StatusOr<cohort::v1::Weights> RobustAggregator::MeanDelta(
    const cohort::v1::Weights& model) && {
  if (updates_.empty()) {
    return absl::FailedPreconditionError("no updates were aggregated");
  }
  std::vector<double> mean;
  if (options_.rule == RobustOptions::Rule::kMultiKrum) {
    COHORT_ASSIGN_OR_RETURN(mean, MultiKrum());
  } else {
    mean = CoordinateWise();
  }
  return WithValues(model, mean);
}

}  // namespace cohort::server
