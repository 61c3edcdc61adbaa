#ifndef COHORT_COMMON_ML_TRAIN_LOOP_H_
#define COHORT_COMMON_ML_TRAIN_LOOP_H_

// Internal to common/ml: the training and evaluation loops every model uses
// (Model::Train, Distill, Int8Model::Evaluate, TorchScript imports).

#include <ATen/core/Tensor.h>

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/ml/model.h"
#include "common/ml/network.h"

namespace cohort::ml::internal {

// INVALID_ARGUMENT for epochs or batch_size < 1, a learning rate that is not
// finite and > 0, or momentum outside [0, 1).
absl::Status ValidateOptions(const TrainOptions& options);

// Loss of one batch given its logits and the batch's example indices.
using BatchLoss =
    std::function<at::Tensor(const at::Tensor& logits, const at::Tensor& index)>;

// SGD over shuffled mini-batches of `images` for options.epochs epochs in
// training mode (dropout on, masks seeded from options.seed), applying
// pruning masks after every step; QAT per options.qat. Leaves the network
// in eval mode. Returns the mean loss of the last epoch. May throw
// c10::Error: call it inside GuardTorch.
TrainResult TrainLoop(Network& network, const at::Tensor& images,
                      const TrainOptions& options, const BatchLoss& loss);

// Accuracy and mean cross-entropy of `forward` (a batch of images to logits)
// over `data` in batches of batch_size, without gradients. INVALID_ARGUMENT
// for a bad data set or batch_size < 1; LibTorch errors as GuardTorch.
absl::StatusOr<EvalResult> EvaluateForward(
    const data::ImageDataset& data, int batch_size,
    const std::function<at::Tensor(const at::Tensor& images)>& forward);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_TRAIN_LOOP_H_
