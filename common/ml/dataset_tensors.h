#ifndef COHORT_COMMON_ML_DATASET_TENSORS_H_
#define COHORT_COMMON_ML_DATASET_TENSORS_H_

// Internal to common/ml: checks on data sets and their conversion to
// tensors, shared by training, distillation and int8 inference.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <exception>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/ml/model.h"
#include "common/ml/zoo.h"

namespace cohort::ml::internal {

// INVALID_ARGUMENT for an empty set, images that are not 28x28, sizes that
// disagree, or a label >= 10.
absl::Status ValidateDataset(const data::ImageDataset& data);
// For inference: 28x28 images whose buffer matches num_examples (labels are
// not read), 0 <= start, 1 <= count, start + count <= n.
absl::Status ValidateRange(const data::ImageDataset& data, int64_t start,
                           int64_t count);
absl::Status ValidateOptions(const TrainOptions& options);

// Images [start, start + count) as normalised floats [count, 1, 28, 28];
// count < 0 means to the end.
at::Tensor ImagesTensor(const data::ImageDataset& data, int64_t start = 0,
                        int64_t count = -1);
at::Tensor LabelsTensor(const data::ImageDataset& data);

// Accuracy and mean cross-entropy of `forward` (a batch of images to logits)
// over `data` in batches of batch_size, without gradients. INVALID_ARGUMENT
// for a bad data set or batch_size < 1; LibTorch errors as GuardTorch.
absl::StatusOr<EvalResult> EvaluateForward(
    const data::ImageDataset& data, int batch_size,
    const std::function<at::Tensor(const at::Tensor& images)>& forward);

// Loss of one batch given its logits and the batch's example indices.
using BatchLoss =
    std::function<at::Tensor(const at::Tensor& logits, const at::Tensor& index)>;

// SGD over shuffled mini-batches of `images` for options.epochs epochs in
// training mode (dropout on, masks seeded from options.seed), applying
// pruning masks after every step; QAT per options.qat. Leaves the network
// in eval mode. Returns the mean loss of the last epoch. May throw
// c10::Error.
TrainResult TrainLoop(Network& network, const at::Tensor& images,
                      const TrainOptions& options, const BatchLoss& loss);

// Runs `body`, converting LibTorch exceptions into INTERNAL.
absl::Status GuardTorch(const std::function<absl::Status()>& body);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_DATASET_TENSORS_H_
