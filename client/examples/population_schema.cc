#include "client/examples/population_schema.h"

#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cohort::client {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

absl::Status ValidateShape(const std::vector<int64_t>& shape) {
  if (shape.empty() || shape.size() > kMaxShapeRank) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape ", ShapeString(shape), " has ", shape.size(),
                     " dimensions; want 1 to ", kMaxShapeRank));
  }
  int64_t values = 1;
  for (const int64_t dim : shape) {
    if (dim < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape ", ShapeString(shape), " has a dimension below 1"));
    }
    // Checked before multiplying, so the product cannot overflow.
    if (dim > kMaxExampleValues / values) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeString(shape), " holds more than ",
                       kMaxExampleValues, " values per example"));
    }
    values *= dim;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePopulationName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxPopulationNameLength;
  for (const char c : name) ok = ok && IsNameChar(c);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "population name '",
      absl::CHexEscape(name.substr(0, kMaxPopulationNameLength + 1)),
      "' must be 1 to ", kMaxPopulationNameLength,
      " characters of a-z, 0-9, '_', '.' and '-'"));
}

absl::Status ValidateSchema(const PopulationSchema& schema) {
  if (absl::Status name = ValidatePopulationName(schema.name); !name.ok()) {
    return name;
  }
  if (absl::Status shape = ValidateShape(schema.shape); !shape.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("population '", schema.name, "': ", shape.message()));
  }
  if (schema.num_classes < 2 || schema.num_classes > kMaxNumClasses) {
    return absl::InvalidArgumentError(absl::StrCat(
        "population '", schema.name, "': num_classes ", schema.num_classes,
        " is outside [2, ", kMaxNumClasses, "]"));
  }
  return absl::OkStatus();
}

int64_t NumValues(const std::vector<int64_t>& shape) {
  int64_t values = 1;
  for (const int64_t dim : shape) values *= dim;
  return values;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

std::string ShapeColumn(const std::vector<int64_t>& shape) {
  return absl::StrJoin(shape, ",");
}

absl::StatusOr<std::vector<int64_t>> ParseShapeColumn(absl::string_view text) {
  std::vector<int64_t> shape;
  for (const absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t dim = 0;
    if (!absl::SimpleAtoi(part, &dim)) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape '", text, "' is not a list of integers"));
    }
    shape.push_back(dim);
  }
  if (absl::Status valid = ValidateShape(shape); !valid.ok()) return valid;
  return shape;
}

absl::Status ValidateExample(const PopulationSchema& schema,
                             absl::Span<const float> features, int64_t label) {
  const int64_t expected = NumValues(schema.shape);
  if (static_cast<int64_t>(features.size()) != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", expected, " values for shape ",
                     ShapeString(schema.shape), ", got ", features.size()));
  }
  for (size_t i = 0; i < features.size(); ++i) {
    const float v = features[i];
    if (std::isnan(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("value at index ", i, " is NaN"));
    }
    if (std::isinf(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("value at index ", i, " is ", v > 0 ? "inf" : "-inf"));
    }
    if (v < 0.0f || v > 1.0f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "value ", v, " at index ", i,
          " is outside [0, 1] (features are intensities; divide 8-bit "
          "pixels by 255)"));
    }
  }
  if (label < 0 || label >= schema.num_classes) {
    return absl::InvalidArgumentError(
        absl::StrCat("label ", label, " is outside [0, ", schema.num_classes,
                     ") of population '", schema.name, "'"));
  }
  return absl::OkStatus();
}

}  // namespace cohort::client
