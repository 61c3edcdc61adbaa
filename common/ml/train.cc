// Model::Train and Model::Evaluate: the LibTorch training loop.

#include <torch/torch.h>

#include <cmath>
#include <exception>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/random.h"
#include "common/ml/model.h"
#include "common/ml/model_impl.h"

namespace cohort::ml {
namespace {

using internal::kImageSide;
using internal::kNumClasses;

// Fashion-MNIST training-set mean and standard deviation of pixel/255.
constexpr float kPixelMean = 0.2860f;
constexpr float kPixelStd = 0.3530f;

absl::Status ValidateDataset(const data::ImageDataset& data) {
  if (data.num_examples <= 0) {
    return absl::InvalidArgumentError("data set is empty");
  }
  if (data.height != kImageSide || data.width != kImageSide) {
    return absl::InvalidArgumentError(
        absl::StrCat("images are ", data.height, "x", data.width, ", want ",
                     kImageSide, "x", kImageSide));
  }
  const size_t n = static_cast<size_t>(data.num_examples);
  if (data.images.size() != n * kImageSide * kImageSide ||
      data.labels.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set of ", n, " examples holds ", data.images.size(),
                     " pixel bytes and ", data.labels.size(), " labels"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (data.labels[i] >= kNumClasses) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", data.labels[i], " at index ", i,
                       " is not in [0, ", kNumClasses, ")"));
    }
  }
  return absl::OkStatus();
}

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
  return absl::OkStatus();
}

// Converts the whole set once per call: per-batch conversion would redo the
// same work every epoch.
torch::Tensor ImagesTensor(const data::ImageDataset& data) {
  // from_blob does not copy, but .to() below does, so the const_cast never
  // lets LibTorch write into the caller's buffer.
  torch::Tensor raw = torch::from_blob(
      const_cast<uint8_t*>(data.images.data()),
      {data.num_examples, 1, kImageSide, kImageSide}, torch::kUInt8);
  return raw.to(torch::kFloat).div_(255.0f).sub_(kPixelMean).div_(kPixelStd);
}

torch::Tensor LabelsTensor(const data::ImageDataset& data) {
  return torch::from_blob(const_cast<uint8_t*>(data.labels.data()),
                          {data.num_examples}, torch::kUInt8)
      .to(torch::kLong);
}

void Shuffle(std::vector<int64_t>& order, base::Random& random) {
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[static_cast<size_t>(random.Uniform(i))]);
  }
}

double RunEpoch(internal::Network& network, torch::optim::SGD& optimizer,
                const torch::Tensor& images, const torch::Tensor& labels,
                const torch::Tensor& order, int64_t batch_size) {
  const int64_t n = images.size(0);
  double loss_sum = 0.0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t size = std::min(batch_size, n - start);
    const torch::Tensor index = order.narrow(0, start, size);
    optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(
        network.Forward(images.index_select(0, index)),
        labels.index_select(0, index));
    loss.backward();
    optimizer.step();
    loss_sum += loss.item<double>() * static_cast<double>(size);
  }
  return loss_sum / static_cast<double>(n);
}

absl::Status LibTorchError(const char* what) {
  return absl::InternalError(absl::StrCat("LibTorch: ", what));
}

}  // namespace

absl::StatusOr<TrainResult> Model::Train(const data::ImageDataset& data,
                                         const TrainOptions& options) {
  if (absl::Status s = ValidateDataset(data); !s.ok()) return s;
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  try {
    internal::Network& network = *impl_->network;
    const torch::Tensor images = ImagesTensor(data);
    const torch::Tensor labels = LabelsTensor(data);
    torch::optim::SGD optimizer(network.parameters(),
                                torch::optim::SGDOptions(options.learning_rate)
                                    .momentum(options.momentum));
    network.train();
    base::Random random(options.seed);
    std::vector<int64_t> order(static_cast<size_t>(data.num_examples));
    std::iota(order.begin(), order.end(), int64_t{0});
    TrainResult result;
    result.num_examples = data.num_examples;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      Shuffle(order, random);
      // A view of `order`, which outlives it and is not touched mid-epoch.
      const torch::Tensor order_tensor =
          torch::from_blob(order.data(), {data.num_examples}, torch::kLong);
      result.mean_loss = RunEpoch(network, optimizer, images, labels,
                                  order_tensor, options.batch_size);
    }
    return result;
  } catch (const c10::Error& e) {
    return LibTorchError(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return LibTorchError(e.what());
  }
}

absl::StatusOr<EvalResult> Model::Evaluate(const data::ImageDataset& data,
                                           int batch_size) {
  if (absl::Status s = ValidateDataset(data); !s.ok()) return s;
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", batch_size));
  }
  try {
    torch::NoGradGuard no_grad;
    internal::Network& network = *impl_->network;
    network.eval();
    const torch::Tensor images = ImagesTensor(data);
    const torch::Tensor labels = LabelsTensor(data);
    const int64_t n = data.num_examples;
    double loss_sum = 0.0;
    int64_t correct = 0;
    for (int64_t start = 0; start < n; start += batch_size) {
      const int64_t size = std::min<int64_t>(batch_size, n - start);
      const torch::Tensor logits =
          network.Forward(images.narrow(0, start, size));
      const torch::Tensor target = labels.narrow(0, start, size);
      loss_sum +=
          torch::nn::functional::cross_entropy(
              logits, target,
              torch::nn::functional::CrossEntropyFuncOptions().reduction(
                  torch::kSum))
              .item<double>();
      correct += logits.argmax(1).eq(target).sum().item<int64_t>();
    }
    EvalResult result;
    result.num_examples = n;
    result.mean_loss = loss_sum / static_cast<double>(n);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(n);
    return result;
  } catch (const c10::Error& e) {
    return LibTorchError(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return LibTorchError(e.what());
  }
}

}  // namespace cohort::ml
