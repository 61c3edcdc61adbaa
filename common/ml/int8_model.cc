#include "common/ml/int8_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/int8_net.h"
#include "common/ml/model_impl.h"

namespace cohort::ml {
namespace {

using internal::Int8Net;
using internal::Network;

constexpr int kTimingWarmup = 5;
constexpr int kTimingRuns = 41;
constexpr int64_t kCalibrationBatch = 250;

std::optional<at::QEngine> ToAten(QEngine engine) {
  switch (engine) {
    case QEngine::kQnnpack:
      return at::QEngine::QNNPACK;
    case QEngine::kOnednn:
      return at::QEngine::ONEDNN;
    case QEngine::kAuto:
      break;
  }
  return std::nullopt;
}

// Exact min/max of every activation over the front of `data`.
void Calibrate(Network& network, const data::ImageDataset& data,
               int64_t examples) {
  torch::NoGradGuard no_grad;
  network.eval();
  network.set_quant_mode(internal::QuantMode::kObserve);
  const int64_t n = std::min(data.num_examples, std::max<int64_t>(1, examples));
  for (int64_t start = 0; start < n; start += kCalibrationBatch) {
    const int64_t size = std::min(kCalibrationBatch, n - start);
    network.Forward(internal::ImagesTensor(data, start, size));
  }
  network.set_quant_mode(internal::QuantMode::kOff);
}

double MedianBatchOneMs(const Int8Net& net, const at::Tensor& one) {
  torch::NoGradGuard no_grad;
  for (int i = 0; i < kTimingWarmup; ++i) net.Forward(one);
  std::vector<double> ms;
  for (int i = 0; i < kTimingRuns; ++i) {
    const auto start = std::chrono::steady_clock::now();
    net.Forward(one);
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

struct Int8Model::Impl {
  QEngine engine = QEngine::kAuto;
  std::vector<EngineTiming> timings;
  std::unique_ptr<Int8Net> net;
};

std::string QEngineName(QEngine engine) {
  switch (engine) {
    case QEngine::kQnnpack:
      return "qnnpack";
    case QEngine::kOnednn:
      return "onednn";
    case QEngine::kAuto:
      break;
  }
  return "auto";
}

std::vector<QEngine> AvailableQEngines() {
  std::vector<QEngine> out;
  for (at::QEngine e : at::globalContext().supportedQEngines()) {
    if (e == at::QEngine::QNNPACK) out.push_back(QEngine::kQnnpack);
    if (e == at::QEngine::ONEDNN) out.push_back(QEngine::kOnednn);
  }
  return out;
}

Int8Model::Int8Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Int8Model::~Int8Model() = default;

QEngine Int8Model::engine() const { return impl_->engine; }

const std::vector<EngineTiming>& Int8Model::engine_timings() const {
  return impl_->timings;
}

absl::StatusOr<std::unique_ptr<Int8Model>> Int8Model::Create(
    const Model& model, const data::ImageDataset& calibration,
    const Int8Options& options) {
  if (absl::Status s = internal::ValidateDataset(calibration); !s.ok()) {
    return s;
  }
  const std::vector<QEngine> available = AvailableQEngines();
  if (available.empty()) {
    return absl::FailedPreconditionError(
        "this LibTorch build has no quantized engine (QNNPACK or oneDNN)");
  }
  std::vector<QEngine> candidates = available;
  if (options.engine != QEngine::kAuto) {
    if (std::find(available.begin(), available.end(), options.engine) ==
        available.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("quantized engine ", QEngineName(options.engine),
                       " is not in this LibTorch build"));
    }
    candidates = {options.engine};
  }
  auto impl = std::make_unique<Impl>();
  absl::Status status = internal::GuardTorch([&]() -> absl::Status {
    std::shared_ptr<Network> network = model.impl_->network->Clone();
    if (!network->HasRanges()) {
      Calibrate(*network, calibration, options.calibration_examples);
    }
    const at::Tensor one = internal::ImagesTensor(calibration, 0, 1);
    double best_ms = 0.0;
    for (QEngine engine : candidates) {
      auto net = std::make_unique<Int8Net>(*network, *ToAten(engine));
      if (candidates.size() > 1) {
        const double ms = MedianBatchOneMs(*net, one);
        impl->timings.push_back({engine, ms});
        if (impl->net != nullptr && ms >= best_ms) continue;
        best_ms = ms;
      }
      impl->engine = engine;
      impl->net = std::move(net);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return std::unique_ptr<Int8Model>(new Int8Model(std::move(impl)));
}

absl::StatusOr<std::vector<float>> Int8Model::Logits(
    const data::ImageDataset& data, int64_t start, int64_t count) {
  if (absl::Status s = internal::ValidateRange(data, start, count); !s.ok()) {
    return s;
  }
  std::vector<float> out;
  absl::Status status = internal::GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    const at::Tensor logits =
        impl_->net->Forward(internal::ImagesTensor(data, start, count))
            .contiguous();
    out.resize(static_cast<size_t>(logits.numel()));
    std::memcpy(out.data(), logits.data_ptr<float>(),
                out.size() * sizeof(float));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<EvalResult> Int8Model::Evaluate(const data::ImageDataset& data,
                                               int batch_size) {
  if (absl::Status s = internal::ValidateDataset(data); !s.ok()) return s;
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", batch_size));
  }
  EvalResult result;
  absl::Status status = internal::GuardTorch([&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    const at::Tensor labels = internal::LabelsTensor(data);
    const int64_t n = data.num_examples;
    double loss_sum = 0.0;
    int64_t correct = 0;
    for (int64_t start = 0; start < n; start += batch_size) {
      const int64_t size = std::min<int64_t>(batch_size, n - start);
      const at::Tensor logits =
          impl_->net->Forward(internal::ImagesTensor(data, start, size));
      const at::Tensor target = labels.narrow(0, start, size);
      loss_sum += torch::nn::functional::cross_entropy(
                      logits, target,
                      torch::nn::functional::CrossEntropyFuncOptions()
                          .reduction(torch::kSum))
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

}  // namespace cohort::ml
