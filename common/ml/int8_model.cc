#include "common/ml/int8_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/latency.h"
#include "common/base/percentile.h"
#include "common/base/status_macros.h"
#include "common/ml/dataset_tensors.h"
#include "common/ml/int8_net.h"
#include "common/ml/onnx_export.h"
#include "common/ml/model_impl.h"
#include "common/ml/torch_guard.h"
#include "common/ml/train_loop.h"

namespace cohort::ml {
namespace {

using internal::Int8Net;
using internal::Network;

constexpr int kTimingRounds = 5;
constexpr int kTimingWarmup = 5;
constexpr int kTimingRunsPerRound = 21;
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

// Median batch-1 forward time of each net (base::TimeInterleaved: the nets
// take turns in blocks, so frequency scaling and neighbours' load hit all
// alike). Every call gets a freshly converted image, as real inference does.
absl::StatusOr<std::vector<double>> MedianBatchOneMs(
    const std::vector<std::unique_ptr<Int8Net>>& nets,
    const data::ImageDataset& images) {
  std::vector<base::InferenceFn> fns;
  for (const auto& net : nets) {
    fns.push_back([&net, &images](int64_t start, int64_t count) {
      torch::NoGradGuard no_grad;
      net->Forward(internal::ImagesTensor(images, start, count));
      return absl::OkStatus();
    });
  }
  base::TimingPlan plan;
  plan.rounds = kTimingRounds;
  plan.warmup_per_block = kTimingWarmup;
  plan.runs_per_block = kTimingRunsPerRound;
  plan.num_examples = images.num_examples;
  auto samples = base::TimeInterleaved(fns, plan);
  if (!samples.ok()) return samples.status();
  std::vector<double> medians;
  for (const std::vector<double>& ms : *samples) {
    medians.push_back(base::Percentile(ms, 0.5));
  }
  return medians;
}

}  // namespace

struct Int8Model::Impl {
  QEngine engine = QEngine::kAuto;
  std::vector<EngineTiming> timings;
  std::unique_ptr<Int8Net> net;
  // With Int8Options.exportable: the fp32 network with the ranges the
  // kernels were built from, and its architecture (for ExportOnnx).
  std::shared_ptr<Network> network;
  std::string architecture;
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
    std::vector<std::unique_ptr<Int8Net>> nets;
    for (QEngine engine : candidates) {
      nets.push_back(std::make_unique<Int8Net>(*network, *ToAten(engine)));
    }
    size_t best = 0;
    if (nets.size() > 1) {
      COHORT_ASSIGN_OR_RETURN(const std::vector<double> ms,
                              MedianBatchOneMs(nets, calibration));
      for (size_t i = 0; i < nets.size(); ++i) {
        impl->timings.push_back({candidates[i], ms[i]});
        if (ms[i] < ms[best]) best = i;
      }
    }
    impl->engine = candidates[best];
    impl->net = std::move(nets[best]);
    if (options.exportable) {
      impl->network = std::move(network);
      impl->architecture = model.architecture();
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

absl::Status Int8Model::ExportOnnx(const std::string& path) const {
  if (impl_->network == nullptr) {
    return absl::FailedPreconditionError(
        "this int8 model was not created exportable (Int8Options.exportable)");
  }
  return internal::WriteOnnx(*impl_->network, internal::OnnxPrecision::kInt8,
                             impl_->architecture, path);
}

absl::StatusOr<EvalResult> Int8Model::Evaluate(const data::ImageDataset& data,
                                               int batch_size) {
  return internal::EvaluateForward(
      data, batch_size,
      [this](const at::Tensor& images) { return impl_->net->Forward(images); });
}

}  // namespace cohort::ml
