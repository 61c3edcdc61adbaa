#ifndef COHORT_COMMON_MODEL_FLAT_WEIGHTS_H_
#define COHORT_COMMON_MODEL_FLAT_WEIGHTS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::model {

// A Weights message as one flat vector, tensor after tensor in message order
// (the order secure aggregation encodes coordinates in).

// Number of elements over all tensors.
int64_t TotalElements(const cohort::v1::Weights& weights);

// Every FLOAT32 value, in order. The caller has validated the layout.
std::vector<float> FlattenFloats(const cohort::v1::Weights& weights);

// FLOAT32 weights with the names and shapes of `layout` holding `values`.
// INVALID_ARGUMENT if values.size() != TotalElements(layout).
absl::StatusOr<cohort::v1::Weights> UnflattenLike(
    const cohort::v1::Weights& layout, std::span<const double> values);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_FLAT_WEIGHTS_H_
