#include "client/examples/feature_codec.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "client/examples/population_schema.h"

namespace cohort::client {

std::string EncodeFeatures(absl::Span<const float> values) {
  std::string out(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(values[i]);
    for (size_t b = 0; b < 4; ++b) {
      out[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
    }
  }
  return out;
}

bool DecodeFeatures(absl::string_view blob, int64_t expected_values,
                    std::vector<float>* out) {
  if (expected_values < 0 ||
      blob.size() != static_cast<size_t>(expected_values) * 4) {
    return false;
  }
  // Growing by push_back keeps appends amortised O(1): a reserve of the
  // exact size here would copy the whole batch at every example.
  for (size_t i = 0; i < blob.size(); i += 4) {
    uint32_t bits = 0;
    for (size_t b = 0; b < 4; ++b) {
      bits |= static_cast<uint32_t>(static_cast<uint8_t>(blob[i + b]))
              << (8 * b);
    }
    out->push_back(std::bit_cast<float>(bits));
  }
  return true;
}

std::vector<float> IntensitiesOf(const data::ImageDataset& data,
                                 int64_t first, int64_t count) {
  const int64_t size = int64_t{data.height} * data.width;
  std::vector<float> out(static_cast<size_t>(count * size));
  for (int64_t i = 0; i < count * size; ++i) {
    out[i] = data.images[first * size + i] / 255.0f;
  }
  return out;
}

uint8_t PixelOf(float value) {
  // NaN compares false both ways and would reach lround; map it to 0.
  if (!(value > 0.0f)) return 0;
  if (value >= 1.0f) return 255;
  return static_cast<uint8_t>(std::lround(value * 255.0f));
}

absl::StatusOr<data::ImageDataset> ToImageDataset(const FeatureBatch& batch,
                                                  int num_classes) {
  const std::vector<int64_t>& shape = batch.shape;
  const bool image =
      (shape.size() == 2) || (shape.size() == 3 && shape[0] == 1);
  if (!image) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shape ", ShapeString(shape),
        " is not a greyscale image; training data sets hold [H,W] or "
        "[1,H,W] examples"));
  }
  if (num_classes < 2 || num_classes > kMaxNumClasses) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_classes ", num_classes, " is outside [2, ", kMaxNumClasses, "]"));
  }
  const int64_t height = shape[shape.size() - 2];
  const int64_t width = shape[shape.size() - 1];
  const size_t n = static_cast<size_t>(batch.num_examples);
  if (batch.num_examples < 0 || batch.labels.size() != n ||
      batch.features.size() != n * static_cast<size_t>(height * width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch of ", batch.num_examples, " examples of shape ",
                     ShapeString(shape), " holds ", batch.features.size(),
                     " values and ", batch.labels.size(), " labels"));
  }
  data::ImageDataset out;
  out.num_examples = batch.num_examples;
  out.height = static_cast<int>(height);
  out.width = static_cast<int>(width);
  out.num_classes = num_classes;
  out.images.resize(batch.features.size());
  std::transform(batch.features.begin(), batch.features.end(),
                 out.images.begin(), PixelOf);
  out.labels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t label = batch.labels[i];
    if (label < 0 || label >= num_classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", label, " of example ", i, " is outside [0, ",
                       num_classes, ")"));
    }
    out.labels[i] = static_cast<uint8_t>(label);
  }
  return out;
}

}  // namespace cohort::client
