#ifndef COHORT_COMMON_SECAGG_FIELD_ENCODING_H_
#define COHORT_COMMON_SECAGG_FIELD_ENCODING_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::secagg {

// Field monitoring's numbers as one fixed-length vector of values in [0, 1],
// so that a secure round can sum them with the update and reveal only the
// sum (docs/LIFECYCLE.md, "Field statistics"). One device's values:
//
//   [ present | accuracy | loss / loss_cap | prediction_fraction (classes)
//   | confidence_fraction (confidence_bins) | feature_mean (features)
//   | feature_mean_square (features) ]
//
// `present` is 1 when the device evaluated the model and its summary fits
// the layout, else 0 and every other value 0, so the sum of `present` is
// the number of devices behind the other sums.
struct FieldLayout {
  int classes = 0;
  int confidence_bins = 0;
  int features = 0;

  bool enabled() const { return classes > 0; }
  bool operator==(const FieldLayout&) const = default;
};

// The layout of Cohort's image inputs (common/data/dataset.h): 10 classes,
// 10 confidence bins of width 0.1, and 49 features, the mean intensities of
// the 7 x 7 patches of 4 x 4 pixels of a 28 x 28 image. Patches rather than
// pixels: drift shows at that scale too, and the summary stays 118 values
// (about 1 KB per device report and per SecAgg input).
inline constexpr int kImageSide = 28;
inline constexpr int kImagePatch = 4;
FieldLayout ImageFieldLayout();

// The values of `summary` in the order every flat form uses (FieldValues,
// the field monitor's entries): prediction_fraction, confidence_fraction,
// feature_mean, feature_mean_square.
std::vector<double> SummaryValues(const cohort::v1::FieldSummary& summary);

// Values of one device under `layout`; 0 when the layout is disabled.
int64_t FieldLength(const FieldLayout& layout);

// OK for the disabled layout (all 0) or classes in [2, 1000],
// confidence_bins in [1, 100] and features in [1, 2^20]; INVALID_ARGUMENT
// otherwise.
absl::Status ValidateFieldLayout(const FieldLayout& layout);

// INVALID_ARGUMENT unless `summary` has classes, confidence_bins and
// features entries (layout enabled), every value finite and in [0, 1], both
// fraction vectors summing to 1 within 1e-6, and mean_square >= mean^2
// within 1e-6 per feature (a variance cannot be negative).
absl::Status ValidateFieldSummary(const FieldLayout& layout,
                                  const cohort::v1::FieldSummary& summary);

// One device's values (length FieldLength(layout)), losses clamped to
// [0, loss_cap] (> 0). All zero when `evaluation` is null, has no summary,
// or fails the checks of ValidateFieldSummary, or its accuracy or loss is
// not a finite number in range: a device that cannot report adds nothing.
std::vector<double> FieldValues(const FieldLayout& layout,
                                const cohort::v1::FieldEvaluation* evaluation,
                                double loss_cap);

// Field evaluations of `devices` devices, each counting once.
struct FieldMean {
  int64_t devices = 0;
  double accuracy = 0;  // mean over devices, in [0, 1]
  double loss = 0;      // mean over devices of the (clamped) loss
  // Means over the devices of their summaries, sized as the layout.
  cohort::v1::FieldSummary summary;
};

// The FieldMean behind a sum of FieldValues vectors (each value already
// divided by the fixed-point scale). The means are projected onto valid
// summaries (shares rescaled to sum to 1, mean squares raised to at least
// the squared mean), undoing rounding noise, so the result always passes
// ValidateFieldSummary. nullopt when no device was present.
// INVALID_ARGUMENT for a sum of the wrong length, a negative or non-finite
// value, or a count of devices that is not a whole number or exceeds
// `max_devices` (the inputs in the sum).
//
// Like the update it travels with, the sum trusts each device's encoding:
// SecAgg hides inputs, so a malicious device can put any value in its
// coordinates, and the clamps here only bound the damage (each mean stays
// in [0, 1], the count at most the inputs summed).
absl::StatusOr<std::optional<FieldMean>> FieldMeanOfSum(
    const FieldLayout& layout, absl::Span<const double> sum, double loss_cap,
    int64_t max_devices);

}  // namespace cohort::secagg

#endif  // COHORT_COMMON_SECAGG_FIELD_ENCODING_H_
