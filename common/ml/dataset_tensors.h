#ifndef COHORT_COMMON_ML_DATASET_TENSORS_H_
#define COHORT_COMMON_ML_DATASET_TENSORS_H_

// Internal to common/ml: checks on data sets and their conversion to
// tensors, shared by training, evaluation and int8 inference.

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/ml/network.h"

namespace cohort::ml::internal {

// Fashion-MNIST training-set mean and standard deviation of pixel/255: a
// model's input is (pixel / 255 - kPixelMean) / kPixelStd.
inline constexpr float kPixelMean = 0.2860f;
inline constexpr float kPixelStd = 0.3530f;

// INVALID_ARGUMENT for an empty set, images that are not 28x28, sizes that
// disagree, or a label >= 10.
absl::Status ValidateDataset(const data::ImageDataset& data);
// For inference: 28x28 images whose buffer matches num_examples (labels are
// not read), 0 <= start, 1 <= count, start + count <= n.
absl::Status ValidateRange(const data::ImageDataset& data, int64_t start,
                           int64_t count);
// Images [start, start + count) as normalised floats [count, 1, 28, 28];
// count < 0 means to the end.
at::Tensor ImagesTensor(const data::ImageDataset& data, int64_t start = 0,
                        int64_t count = -1);
at::Tensor LabelsTensor(const data::ImageDataset& data);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_DATASET_TENSORS_H_
