// Model::Train, Model::Evaluate and Model::Logits.

#include <torch/torch.h>

#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"
#include "common/ml/torch_guard.h"
#include "common/ml/train_loop.h"

namespace cohort::ml {

using internal::GuardTorch;

absl::StatusOr<TrainResult> Model::Train(const data::ImageDataset& data,
                                         const TrainOptions& options) {
  if (absl::Status s = internal::ValidateDataset(data); !s.ok()) return s;
  if (absl::Status s = internal::ValidateOptions(options); !s.ok()) return s;
  TrainResult result;
  absl::Status status = GuardTorch([&]() -> absl::Status {
    const torch::Tensor images = internal::ImagesTensor(data);
    const torch::Tensor labels = internal::LabelsTensor(data);
    result = internal::TrainLoop(
        *impl_->network, images, options,
        [&labels](const at::Tensor& logits, const at::Tensor& index) {
          return torch::nn::functional::cross_entropy(
              logits, labels.index_select(0, index));
        });
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<EvalResult> Model::Evaluate(const data::ImageDataset& data,
                                           int batch_size) {
  internal::Network& network = *impl_->network;
  network.eval();
  return internal::EvaluateForward(
      data, batch_size,
      [&network](const at::Tensor& images) { return network.Forward(images); });
}

absl::StatusOr<std::vector<float>> Model::Logits(
    const data::ImageDataset& data, int64_t start, int64_t count) {
  if (absl::Status s = internal::ValidateRange(data, start, count); !s.ok()) {
    return s;
  }
  std::vector<float> out;
  absl::Status status = GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    impl_->network->eval();
    const torch::Tensor logits =
        impl_->network->Forward(internal::ImagesTensor(data, start, count))
            .contiguous();
    out.resize(static_cast<size_t>(logits.numel()));
    std::memcpy(out.data(), logits.data_ptr<float>(),
                out.size() * sizeof(float));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

}  // namespace cohort::ml
