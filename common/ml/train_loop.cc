#include "common/ml/train_loop.h"

#include <torch/torch.h>

#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/random.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/torch_guard.h"

namespace cohort::ml::internal {
namespace {

void Shuffle(std::vector<int64_t>& order, base::Random& random) {
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[static_cast<size_t>(random.Uniform(i))]);
  }
}

// FedProx: the proximal term's gradient mu * (w - w_start), added to each
// parameter's gradient in place.
class ProximalTerm {
 public:
  ProximalTerm(const std::vector<torch::Tensor>& parameters, float mu)
      : mu_(mu) {
    if (mu_ == 0.0f) return;
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& p : parameters) start_.push_back(p.detach().clone());
  }
  void AddToGradients(const std::vector<torch::Tensor>& parameters) const {
    if (mu_ == 0.0f) return;
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters.size(); ++i) {
      torch::Tensor grad = parameters[i].mutable_grad();
      if (!grad.defined()) continue;
      grad.add_(parameters[i] - start_[i], mu_);
    }
  }

 private:
  const float mu_;
  std::vector<torch::Tensor> start_;
};

}  // namespace

absl::Status ValidateOptions(const TrainOptions& options) {
  if (options.epochs < 1 || options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("epochs and batch_size must be >= 1, got ", options.epochs,
                     " and ", options.batch_size));
  }
  if (!(options.learning_rate > 0.0f) ||
      !std::isfinite(options.learning_rate)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learning_rate must be finite and > 0, got ", options.learning_rate));
  }
  if (!(options.momentum >= 0.0f && options.momentum < 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("momentum must be in [0, 1), got ", options.momentum));
  }
  if (!(options.proximal_mu >= 0.0f) || !std::isfinite(options.proximal_mu)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "proximal_mu must be finite and >= 0, got ", options.proximal_mu));
  }
  return absl::OkStatus();
}

TrainResult TrainLoop(Network& network, const at::Tensor& images,
                      const TrainOptions& options, const BatchLoss& loss_fn) {
  const int64_t n = images.size(0);
  const std::vector<torch::Tensor> parameters = network.parameters();
  torch::optim::SGD optimizer(parameters,
                              torch::optim::SGDOptions(options.learning_rate)
                                  .momentum(options.momentum));
  const ProximalTerm proximal(parameters, options.proximal_mu);
  network.set_quant_mode(options.qat ? QuantMode::kFakeQuant
                                     : QuantMode::kOff);
  network.train();
  // Dropout masks restart from the seed too, so a reused Network (the
  // simulator's per-thread trainers) trains each client as a fresh one would.
  network.SeedDropout(options.seed);
  base::Random random(options.seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  TrainResult result;
  result.num_examples = n;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    Shuffle(order, random);
    // A view of `order`, which outlives it and is not touched mid-epoch.
    const torch::Tensor order_tensor =
        torch::from_blob(order.data(), {n}, torch::kLong);
    double loss_sum = 0.0;
    for (int64_t start = 0; start < n; start += options.batch_size) {
      if (options.should_stop && options.should_stop()) {
        result.stopped = true;
        network.eval();
        return result;
      }
      const int64_t size = std::min<int64_t>(options.batch_size, n - start);
      const torch::Tensor index = order_tensor.narrow(0, start, size);
      optimizer.zero_grad();
      torch::Tensor loss =
          loss_fn(network.Forward(images.index_select(0, index)), index);
      loss.backward();
      proximal.AddToGradients(parameters);
      optimizer.step();
      network.ApplyMasks();
      loss_sum += loss.item<double>() * static_cast<double>(size);
    }
    result.mean_loss = loss_sum / static_cast<double>(n);
  }
  network.eval();
  return result;
}

absl::StatusOr<EvalResult> EvaluateForward(
    const data::ImageDataset& data, int batch_size,
    const std::function<at::Tensor(const at::Tensor& images)>& forward) {
  if (absl::Status s = ValidateDataset(data); !s.ok()) return s;
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", batch_size));
  }
  EvalResult result;
  absl::Status status = GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    const at::Tensor labels = LabelsTensor(data);
    const int64_t n = data.num_examples;
    double loss_sum = 0.0;
    int64_t correct = 0;
    at::Tensor predicted = torch::zeros({data.num_classes}, torch::kLong);
    at::Tensor confident = torch::zeros({kConfidenceBins}, torch::kLong);
    for (int64_t start = 0; start < n; start += batch_size) {
      const int64_t size = std::min<int64_t>(batch_size, n - start);
      const at::Tensor logits =
          forward(ImagesTensor(data, start, size));
      const at::Tensor target = labels.narrow(0, start, size);
      loss_sum += torch::nn::functional::cross_entropy(
                      logits, target,
                      torch::nn::functional::CrossEntropyFuncOptions()
                          .reduction(torch::kSum))
                      .item<double>();
      const auto [top, label] = logits.softmax(1).max(1);
      correct += label.eq(target).sum().item<int64_t>();
      // A model with more outputs than the data has classes: predictions
      // past them are left out of the counts.
      predicted +=
          label.bincount({}, data.num_classes).narrow(0, 0, data.num_classes);
      // A non-finite probability (overflowing activations) counts in bin 0.
      confident += (top.nan_to_num(0.0, 0.0, 0.0) * kConfidenceBins)
                       .floor()
                       .clamp(0, kConfidenceBins - 1)
                       .to(torch::kLong)
                       .bincount({}, kConfidenceBins);
    }
    result.predicted_counts.assign(predicted.data_ptr<int64_t>(),
                                   predicted.data_ptr<int64_t>() +
                                       data.num_classes);
    result.confidence_counts.assign(confident.data_ptr<int64_t>(),
                                    confident.data_ptr<int64_t>() +
                                        kConfidenceBins);
    result.num_examples = n;
    result.mean_loss = loss_sum / static_cast<double>(n);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(n);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace cohort::ml::internal
