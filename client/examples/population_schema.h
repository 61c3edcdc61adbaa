#ifndef COHORT_CLIENT_EXAMPLES_POPULATION_SCHEMA_H_
#define COHORT_CLIENT_EXAMPLES_POPULATION_SCHEMA_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cohort::client {

// The fixed form of one population's examples in an ExampleStore. Every
// example holds NumValues(shape) float32 features, each an intensity in
// [0, 1], and a label in [0, num_classes). Intensities, because training
// reads a data::ImageDataset of 8-bit pixels: a value v becomes the pixel
// round(255 v), and a value outside [0, 1] (raw 0..255 pixels, standardised
// features) would be silently saturated, so it is refused instead.
struct PopulationSchema {
  // 1 to 64 characters of [a-z0-9_.-], e.g. "fashion_mnist".
  std::string name;
  // The tensor shape of one example, e.g. {1, 28, 28}: 1 to 4 dimensions,
  // each >= 1, at most kMaxExampleValues values in all. A data set for
  // training needs a greyscale image: {H, W} or {1, H, W}.
  std::vector<int64_t> shape;
  // Labels are in [0, num_classes): 2 to 256 (training labels are bytes).
  int num_classes = 0;

  friend bool operator==(const PopulationSchema&,
                         const PopulationSchema&) = default;
};

// One example for ExampleStore::AddBatch.
struct Example {
  std::vector<float> features;
  int64_t label = 0;
};

inline constexpr size_t kMaxPopulationNameLength = 64;
inline constexpr size_t kMaxShapeRank = 4;
// 4 MiB of float32 features per example; a bound on what one Add can cost.
inline constexpr int64_t kMaxExampleValues = int64_t{1} << 20;
inline constexpr int kMaxNumClasses = 256;

// INVALID_ARGUMENT naming the rule unless `name` is 1 to 64 characters of
// [a-z0-9_.-].
absl::Status ValidatePopulationName(absl::string_view name);

// INVALID_ARGUMENT naming the field: a bad name, shape (rank, a dimension
// < 1, too many values) or num_classes.
absl::Status ValidateSchema(const PopulationSchema& schema);

// The number of values of one example of `shape` (the product of its
// dimensions). `shape` must have passed ValidateSchema.
int64_t NumValues(const std::vector<int64_t>& shape);

// "[1,28,28]", as messages show a shape.
std::string ShapeString(const std::vector<int64_t>& shape);

// The stored form of a shape, "1,28,28", and back. Parsing returns
// INVALID_ARGUMENT for text that is not such a list; the caller decides
// what a bad stored shape means.
std::string ShapeColumn(const std::vector<int64_t>& shape);
absl::StatusOr<std::vector<int64_t>> ParseShapeColumn(absl::string_view text);

// OK if the example fits `schema`; otherwise INVALID_ARGUMENT saying what is
// wrong: "expected 784 values for shape [1,28,28], got 783", "value at index
// 5 is NaN" (or inf, -inf), "value 1.5 at index 3 is outside [0, 1]", "label
// 10 is outside [0, 10)". The first problem found is reported.
absl::Status ValidateExample(const PopulationSchema& schema,
                             absl::Span<const float> features, int64_t label);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_EXAMPLES_POPULATION_SCHEMA_H_
