#include "client/train/field_summary.h"

#include <numeric>
#include <vector>

#include "common/secagg/field_encoding.h"

namespace cohort::client {
namespace {

using secagg::kImagePatch;
using secagg::kImageSide;

// counts / total into `out`; false unless there are `size` counts adding up
// to `total`.
bool Shares(const std::vector<int64_t>& counts, int size, int64_t total,
            google::protobuf::RepeatedField<double>* out) {
  if (static_cast<int>(counts.size()) != size ||
      std::accumulate(counts.begin(), counts.end(), int64_t{0}) != total) {
    return false;
  }
  for (int64_t c : counts) {
    out->Add(static_cast<double>(c) / static_cast<double>(total));
  }
  return true;
}

// Adds every example's patch means, and their squares, to the sums.
void AddPatches(const data::ImageDataset& data, std::vector<double>& sum,
                std::vector<double>& sum_sq) {
  constexpr int kPatches = kImageSide / kImagePatch;
  constexpr double kPixels = 255.0 * kImagePatch * kImagePatch;
  const size_t image = kImageSide * kImageSide;
  for (int64_t e = 0; e < data.num_examples; ++e) {
    const uint8_t* px = data.images.data() + e * image;
    for (int p = 0; p < kPatches * kPatches; ++p) {
      const int top = (p / kPatches) * kImagePatch;
      const int left = (p % kPatches) * kImagePatch;
      int total = 0;
      for (int y = top; y < top + kImagePatch; ++y) {
        for (int x = left; x < left + kImagePatch; ++x) {
          total += px[y * kImageSide + x];
        }
      }
      const double mean = total / kPixels;
      sum[p] += mean;
      sum_sq[p] += mean * mean;
    }
  }
}

}  // namespace

std::optional<cohort::v1::FieldSummary> SummarizeField(
    const data::ImageDataset& data, const ml::EvalResult& evaluation) {
  const secagg::FieldLayout layout = secagg::ImageFieldLayout();
  const int64_t n = data.num_examples;
  if (n < 1 || data.height != kImageSide || data.width != kImageSide ||
      data.images.size() != static_cast<size_t>(n) * kImageSide * kImageSide) {
    return std::nullopt;
  }
  cohort::v1::FieldSummary s;
  if (!Shares(evaluation.predicted_counts, layout.classes, n,
              s.mutable_prediction_fraction()) ||
      !Shares(evaluation.confidence_counts, layout.confidence_bins, n,
              s.mutable_confidence_fraction())) {
    return std::nullopt;
  }
  std::vector<double> sum(layout.features, 0.0), sum_sq(layout.features, 0.0);
  AddPatches(data, sum, sum_sq);
  for (int f = 0; f < layout.features; ++f) {
    s.add_feature_mean(sum[f] / static_cast<double>(n));
    s.add_feature_mean_square(sum_sq[f] / static_cast<double>(n));
  }
  return s;
}

}  // namespace cohort::client
