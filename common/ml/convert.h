#ifndef COHORT_COMMON_ML_CONVERT_H_
#define COHORT_COMMON_ML_CONVERT_H_

// Internal to common/ml: cohort.v1.Weights <-> a module's named parameters.

#include <ATen/core/Tensor.h>
#include <torch/ordered_dict.h>

#include <string>

#include "absl/status/status.h"
#include "cohort/v1/model.pb.h"

namespace cohort::ml::internal {

using NamedTensors = torch::OrderedDict<std::string, at::Tensor>;

// Copies every tensor (contiguous fp32 CPU) into a DTYPE_FLOAT32 Tensor with
// little-endian payload, keeping the dictionary's order.
cohort::v1::Weights ToWeights(const NamedTensors& params);

// Checks that `weights` holds exactly the names in `params` (any order, no
// duplicates), each DTYPE_FLOAT32 with the parameter's shape and a payload of
// 4 * numel bytes, and only then copies the values in. INVALID_ARGUMENT naming
// the first offending tensor; `params` is untouched on error.
absl::Status AssignWeights(const cohort::v1::Weights& weights,
                           NamedTensors& params);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_CONVERT_H_
