#include "common/secagg/field_encoding.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace cohort::secagg {
namespace {

constexpr double kSumSlack = 1e-6;

bool InUnit(double v) { return std::isfinite(v) && v >= 0.0 && v <= 1.0; }

absl::Status CheckFractions(const char* name,
                            const google::protobuf::RepeatedField<double>& v,
                            int size) {
  if (v.size() != size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field summary ", name, " has ", v.size(), " entries, expected ", size));
  }
  double sum = 0;
  for (double x : v) {
    if (!InUnit(x)) {
      return absl::InvalidArgumentError(
          absl::StrCat("field summary ", name, " has a value outside [0, 1]"));
    }
    sum += x;
  }
  if (std::abs(sum - 1.0) > kSumSlack) {
    return absl::InvalidArgumentError(
        absl::StrCat("field summary ", name, " sums to ", sum, ", not 1"));
  }
  return absl::OkStatus();
}

absl::Status CheckFeatures(const cohort::v1::FieldSummary& s, int features) {
  if (s.feature_mean_size() != features ||
      s.feature_mean_square_size() != features) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field summary has ", s.feature_mean_size(), " feature means and ",
        s.feature_mean_square_size(), " mean squares, expected ", features));
  }
  for (int i = 0; i < features; ++i) {
    const double m = s.feature_mean(i), q = s.feature_mean_square(i);
    if (!InUnit(m) || !InUnit(q) || q < m * m - kSumSlack) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field summary feature ", i, " has mean ", m, " and mean square ", q,
          " (both in [0, 1], mean square >= mean^2)"));
    }
  }
  return absl::OkStatus();
}

// The next `n` values of `sum` from `*at`, each divided by `devices` and
// clamped to [0, 1] (rounding may leave a mean a hair outside).
void TakeMeans(absl::Span<const double> sum, size_t* at, int n, double devices,
               google::protobuf::RepeatedField<double>* out) {
  out->Reserve(n);
  for (int i = 0; i < n; ++i) {
    out->Add(std::clamp(sum[(*at)++] / devices, 0.0, 1.0));
  }
}

// Scales `shares` to sum to 1; false when they sum to nothing.
bool Normalize(google::protobuf::RepeatedField<double>* shares) {
  const double total = std::accumulate(shares->begin(), shares->end(), 0.0);
  if (!(total > 0)) return false;
  for (double& v : *shares) v /= total;
  return true;
}

}  // namespace

FieldLayout ImageFieldLayout() {
  constexpr int kPatches = kImageSide / kImagePatch;
  return FieldLayout{
      .classes = 10, .confidence_bins = 10, .features = kPatches * kPatches};
}

std::vector<double> SummaryValues(const cohort::v1::FieldSummary& s) {
  std::vector<double> out;
  out.reserve(s.prediction_fraction_size() + s.confidence_fraction_size() +
              s.feature_mean_size() + s.feature_mean_square_size());
  for (const auto* part : {&s.prediction_fraction(), &s.confidence_fraction(),
                           &s.feature_mean(), &s.feature_mean_square()}) {
    out.insert(out.end(), part->begin(), part->end());
  }
  return out;
}

int64_t FieldLength(const FieldLayout& l) {
  if (!l.enabled()) return 0;
  return 3 + int64_t{l.classes} + l.confidence_bins + 2 * int64_t{l.features};
}

absl::Status ValidateFieldLayout(const FieldLayout& l) {
  if (l == FieldLayout{}) return absl::OkStatus();
  if (l.classes < 2 || l.classes > 1000 || l.confidence_bins < 1 ||
      l.confidence_bins > 100 || l.features < 1 || l.features > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field layout of ", l.classes, " classes, ", l.confidence_bins,
        " confidence bins and ", l.features,
        " features is outside [2, 1000], [1, 100] and [1, 2^20]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateFieldSummary(const FieldLayout& layout,
                                  const cohort::v1::FieldSummary& s) {
  if (!layout.enabled()) {
    return absl::InvalidArgumentError("no field layout to check against");
  }
  if (absl::Status st = CheckFractions("prediction_fraction",
                                       s.prediction_fraction(), layout.classes);
      !st.ok()) {
    return st;
  }
  if (absl::Status st =
          CheckFractions("confidence_fraction", s.confidence_fraction(),
                         layout.confidence_bins);
      !st.ok()) {
    return st;
  }
  return CheckFeatures(s, layout.features);
}

std::vector<double> FieldValues(const FieldLayout& layout,
                                const cohort::v1::FieldEvaluation* e,
                                double loss_cap) {
  std::vector<double> out;
  const int64_t length = FieldLength(layout);
  out.reserve(length);
  if (e != nullptr && e->has_summary() && InUnit(e->accuracy()) &&
      std::isfinite(e->loss()) && e->loss() >= 0 && loss_cap > 0 &&
      ValidateFieldSummary(layout, e->summary()).ok()) {
    out.push_back(1.0);
    out.push_back(e->accuracy());
    out.push_back(std::min(e->loss(), loss_cap) / loss_cap);
    const std::vector<double> summary = SummaryValues(e->summary());
    out.insert(out.end(), summary.begin(), summary.end());
  }
  out.resize(length, 0.0);
  return out;
}

absl::StatusOr<std::optional<FieldMean>> FieldMeanOfSum(
    const FieldLayout& layout, absl::Span<const double> sum, double loss_cap,
    int64_t max_devices) {
  if (static_cast<int64_t>(sum.size()) != FieldLength(layout)) {
    return absl::InvalidArgumentError(
        absl::StrCat("field sum has ", sum.size(), " values, expected ",
                     FieldLength(layout)));
  }
  for (double v : sum) {
    if (!std::isfinite(v) || v < 0) {
      return absl::InvalidArgumentError("field sum has a negative value");
    }
  }
  if (sum.empty()) return std::optional<FieldMean>();
  // Each device adds exactly 0 or 1, so an honest count is whole.
  const double present = sum[0];
  if (present != std::round(present) || present > max_devices) {
    return absl::InvalidArgumentError(
        absl::StrCat("field sum counts ", present,
                     " devices, not a whole number of at most ", max_devices));
  }
  if (present < 1) return std::optional<FieldMean>();
  FieldMean m;
  m.devices = static_cast<int64_t>(present);
  m.accuracy = std::clamp(sum[1] / present, 0.0, 1.0);
  m.loss = std::clamp(sum[2] / present, 0.0, 1.0) * loss_cap;
  size_t at = 3;
  TakeMeans(sum, &at, layout.classes, present,
            m.summary.mutable_prediction_fraction());
  TakeMeans(sum, &at, layout.confidence_bins, present,
            m.summary.mutable_confidence_fraction());
  TakeMeans(sum, &at, layout.features, present,
            m.summary.mutable_feature_mean());
  TakeMeans(sum, &at, layout.features, present,
            m.summary.mutable_feature_mean_square());
  // Fixed-point rounding leaves each mean within a step per device of the
  // truth; project back onto what a summary must be (shares summing to 1,
  // no negative variance), so the result passes ValidateFieldSummary.
  if (!Normalize(m.summary.mutable_prediction_fraction()) ||
      !Normalize(m.summary.mutable_confidence_fraction())) {
    return absl::InvalidArgumentError(
        "field sum has shares that add up to nothing");
  }
  for (int f = 0; f < layout.features; ++f) {
    const double mean = m.summary.feature_mean(f);
    m.summary.set_feature_mean_square(
        f, std::max(m.summary.feature_mean_square(f), mean * mean));
  }
  return std::optional<FieldMean>(std::move(m));
}

}  // namespace cohort::secagg
