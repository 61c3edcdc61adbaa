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
  if (absl::Status s = internal::ValidateDataset(data); !s.ok()) return s;
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", batch_size));
  }
  EvalResult result;
  absl::Status status = GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    internal::Network& network = *impl_->network;
    network.eval();
    const torch::Tensor labels = internal::LabelsTensor(data);
    const int64_t n = data.num_examples;
    double loss_sum = 0.0;
    int64_t correct = 0;
    for (int64_t start = 0; start < n; start += batch_size) {
      const int64_t size = std::min<int64_t>(batch_size, n - start);
      const torch::Tensor logits =
          network.Forward(internal::ImagesTensor(data, start, size));
      const torch::Tensor target = labels.narrow(0, start, size);
      loss_sum +=
          torch::nn::functional::cross_entropy(
              logits, target,
              torch::nn::functional::CrossEntropyFuncOptions().reduction(
                  torch::kSum))
              .item<double>();
      correct += logits.argmax(1).eq(target).sum().item<int64_t>();
    }
    result.num_examples = n;
    result.mean_loss = loss_sum / static_cast<double>(n);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(n);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
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
