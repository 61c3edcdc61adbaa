// Model::Distill: a student trained on a teacher's softened logits.

#include <torch/torch.h>

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"
#include "common/ml/torch_guard.h"
#include "common/ml/train_loop.h"

namespace cohort::ml {

absl::StatusOr<TrainResult> Model::Distill(Model& teacher,
                                           const data::ImageDataset& proxy,
                                           const DistillOptions& options) {
  if (absl::Status s = internal::ValidateDataset(proxy); !s.ok()) return s;
  if (absl::Status s = internal::ValidateOptions(options.train); !s.ok()) {
    return s;
  }
  if (!(options.temperature > 0.0f) || !std::isfinite(options.temperature) ||
      !(options.soft_weight >= 0.0f && options.soft_weight <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "temperature must be > 0 and soft_weight in [0, 1], got ",
        options.temperature, " and ", options.soft_weight));
  }
  TrainResult result;
  absl::Status status = internal::GuardTorch([&]() -> absl::Status {
    const torch::Tensor images = internal::ImagesTensor(proxy);
    const torch::Tensor labels = internal::LabelsTensor(proxy);
    const double t = options.temperature;
    // The teacher is fixed, so its soft targets are computed once.
    torch::Tensor soft_targets;
    {
      torch::NoGradGuard no_grad;
      teacher.impl_->network->eval();
      soft_targets = torch::log_softmax(
          teacher.impl_->network->Forward(images) / t, 1);
    }
    const double w = options.soft_weight;
    result = internal::TrainLoop(
        *impl_->network, images, options.train,
        [&](const at::Tensor& logits, const at::Tensor& index) {
          // KL(teacher || student) on softened distributions; the t^2
          // factor keeps its gradient scale independent of t.
          torch::Tensor soft = torch::nn::functional::kl_div(
              torch::log_softmax(logits / t, 1),
              soft_targets.index_select(0, index),
              torch::nn::functional::KLDivFuncOptions()
                  .reduction(torch::kBatchMean)
                  .log_target(true));
          torch::Tensor loss = soft * (w * t * t);
          if (w < 1.0) {
            loss = loss + (1.0 - w) * torch::nn::functional::cross_entropy(
                                          logits, labels.index_select(0, index));
          }
          return loss;
        });
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace cohort::ml
