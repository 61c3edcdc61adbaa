#include "common/model/running_statistics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/match.h"
#include "common/model/weights_util.h"

namespace cohort::model {
namespace {

double SquaredNorm(const cohort::v1::Tensor& t) {
  return SumOfSquares(FloatView(t));
}

// Multiplies the tensors of one block (statistics or trainable) by factor.
void ScaleBlock(cohort::v1::Weights* update, bool statistics, double factor) {
  for (auto& t : *update->mutable_tensors()) {
    if (IsRunningStatistic(t) == statistics) ScaleTensor(&t, factor);
  }
}

}  // namespace

bool IsRunningStatistic(const cohort::v1::Tensor& tensor) {
  return absl::EndsWith(tensor.name(), ".running_mean") ||
         IsRunningVariance(tensor);
}

bool IsRunningVariance(const cohort::v1::Tensor& tensor) {
  return absl::EndsWith(tensor.name(), ".running_var");
}

int64_t CountStatistics(const cohort::v1::Weights& weights) {
  int64_t count = 0;
  for (const auto& t : weights.tensors()) {
    if (IsRunningStatistic(t)) count += std::max<int64_t>(ElementCount(t), 0);
  }
  return count;
}

double DefaultStatisticsClipNorm(const cohort::v1::Weights& model) {
  const int64_t count = CountStatistics(model);
  if (count == 0) return 0.0;
  return 4.0 * NormsOf(model).statistics +
         4.0 * std::sqrt(static_cast<double>(count));
}

double EncodedUpdateBound(double clip_norm, const cohort::v1::Weights& model) {
  return CountStatistics(model) > 0 ? std::sqrt(2.0) * clip_norm : clip_norm;
}

BlockNorms NormsOf(const cohort::v1::Weights& update) {
  double trainable = 0.0, statistics = 0.0;
  for (const auto& t : update.tensors()) {
    (IsRunningStatistic(t) ? statistics : trainable) += SquaredNorm(t);
  }
  return {std::sqrt(trainable), std::sqrt(statistics)};
}

void ScaleStatistics(cohort::v1::Weights* update, double factor) {
  ScaleBlock(update, /*statistics=*/true, factor);
}

bool ClipEachBlock(cohort::v1::Weights* update, double bound) {
  const BlockNorms norms = NormsOf(*update);
  bool clipped = false;
  if (norms.trainable > bound) {
    ScaleBlock(update, /*statistics=*/false, bound / norms.trainable);
    clipped = true;
  }
  if (norms.statistics > bound) {
    ScaleBlock(update, /*statistics=*/true, bound / norms.statistics);
    clipped = true;
  }
  return clipped;
}

bool PrepareUpdate(cohort::v1::Weights* delta, double clip_norm,
                   double statistics_clip_norm) {
  if (!(clip_norm > 0)) return false;
  if (!(statistics_clip_norm > 0)) return ClipToNorm(delta, clip_norm);
  ScaleStatistics(delta, clip_norm / statistics_clip_norm);
  return ClipEachBlock(delta, clip_norm);
}

void ClampVariances(cohort::v1::Weights* weights) {
  std::vector<float> values;
  for (auto& t : *weights->mutable_tensors()) {
    if (!IsRunningVariance(t)) continue;
    auto view = FloatView(t);
    if (std::none_of(view.begin(), view.end(), [](float v) { return v < 0; })) {
      continue;
    }
    values.assign(view.begin(), view.end());
    for (float& v : values) v = std::max(v, 0.0f);
    SetFloatData(values, &t);
  }
}

}  // namespace cohort::model
