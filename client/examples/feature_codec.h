#ifndef COHORT_CLIENT_EXAMPLES_FEATURE_CODEC_H_
#define COHORT_CLIENT_EXAMPLES_FEATURE_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/data/dataset.h"

namespace cohort::client {

// Examples exactly as stored: float32 features, unconverted. For callers
// that want the values themselves (tests, a future non-image trainer); the
// trainer reads ToImageDataset's form.
struct FeatureBatch {
  // The shape of one example, as its population's schema says.
  std::vector<int64_t> shape;
  int64_t num_examples = 0;
  // num_examples * NumValues(shape) values, one example after another, each
  // row-major.
  std::vector<float> features;
  // num_examples labels, in the order of `features`.
  std::vector<int64_t> labels;
};

// The stored form of features: little-endian IEEE-754 float32, 4 bytes per
// value, whatever the host's byte order, so a store file moves between
// machines.
std::string EncodeFeatures(absl::Span<const float> values);

// Appends the values of `blob` to `out`. False, leaving `out` as it was,
// unless `blob` holds exactly `expected_values` values.
bool DecodeFeatures(absl::string_view blob, int64_t expected_values,
                    std::vector<float>* out);

// The 8-bit pixel of an intensity: round(255 v) for v in [0, 1]; values
// outside are clamped (the store refuses them before they get here). Exact
// both ways for v = k / 255.0f.
uint8_t PixelOf(float value);

// The inverse of PixelOf for examples [first, first + count) of `data`:
// height * width intensities pixel / 255 per example, one after another,
// as applications send them. The range must be inside `data`.
std::vector<float> IntensitiesOf(const data::ImageDataset& data,
                                 int64_t first, int64_t count);

// `batch` as the data set the trainer and the Fashion-MNIST loader use: one
// byte per pixel (PixelOf), labels as bytes, in `batch`'s order.
// FAILED_PRECONDITION unless the shape is a greyscale image, {H, W} or
// {1, H, W}; INVALID_ARGUMENT unless num_classes is in [2, 256] and every
// label is in [0, num_classes) and the sizes agree.
absl::StatusOr<data::ImageDataset> ToImageDataset(const FeatureBatch& batch,
                                                  int num_classes);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_FEATURE_CODEC_H_
