// internal::Network: the layer chain, with observers and fake quantization.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <utility>

#include "common/ml/network.h"
#include "common/model/quantize.h"
#include "glog/logging.h"

namespace cohort::ml::internal {
namespace {

constexpr int kActivationQuantMax = 255;
// Moving-average weight of a new batch's range during QAT. PyTorch's
// MovingAverageMinMaxObserver uses 0.01, which suits fine-tuning a trained
// model; ranges lagging 100 batches behind training from scratch clip most
// activations and stall it, so ranges follow faster here.
constexpr float kRangeMomentum = 0.1f;
// Until SeedDropout: TrainOptions.seed's default.
constexpr uint64_t kDefaultDropoutSeed = 1;

std::vector<int64_t> WeightShape(const LayerSpec& spec) {
  if (spec.kind == LayerSpec::Kind::kConv2d) {
    return {spec.out, spec.in, spec.kernel, spec.kernel};
  }
  return {spec.out, spec.in};
}

}  // namespace

AffineParams ActivationParams(const ActivationRange& range) {
  const double lo = std::min(0.0f, range.min);
  const double hi = std::max(0.0f, range.max);
  AffineParams p;
  p.scale = std::max((hi - lo) / kActivationQuantMax, 1e-8);
  p.zero_point = std::clamp<int64_t>(std::llround(-lo / p.scale), 0,
                                     kActivationQuantMax);
  return p;
}

torch::Tensor WeightScales(const torch::Tensor& weight) {
  const torch::Tensor max_abs = weight.detach().abs().flatten(1).amax(1);
  // Clamped as model::QuantizeWeights clamps the artifact's scales, so the
  // kernels, the ONNX export and the artifact share one grid.
  return torch::where(
      max_abs > 0,
      (max_abs / 127.0f).clamp(model::kMinInt8Scale, model::kMaxInt8Scale),
      torch::full_like(max_abs, model::kZeroChannelScale));
}

Network::Network(std::vector<LayerSpec> specs)
    : specs_(std::move(specs)),
      dropout_generator_(at::detail::createCPUGenerator(kDefaultDropoutSeed)) {
  for (const LayerSpec& spec : specs_) {
    auto layer = std::make_shared<torch::nn::Module>();
    // Handles share the parameters' storage; optimizers update in place.
    weights_.push_back(
        layer->register_parameter("weight", torch::zeros(WeightShape(spec))));
    biases_.push_back(spec.bias ? layer->register_parameter(
                                      "bias", torch::zeros({spec.out}))
                                : torch::Tensor());
    register_module(spec.name, layer);
  }
  masks_.resize(specs_.size());
  ranges_.resize(specs_.size() + 1);
}

torch::Tensor& Network::weight(size_t layer) { return weights_.at(layer); }

torch::Tensor& Network::bias(size_t layer) { return biases_.at(layer); }

bool Network::HasRanges() const {
  return std::all_of(ranges_.begin(), ranges_.end(),
                     [](const ActivationRange& r) { return r.seen; });
}

torch::Tensor Network::Quantize(torch::Tensor x, size_t range_index) {
  if (mode_ == QuantMode::kOff) return x;
  ActivationRange& range = ranges_[range_index];
  const bool update = mode_ == QuantMode::kObserve || is_training();
  if (update) {
    const torch::Tensor detached = x.detach();
    const float lo = detached.min().item<float>();
    const float hi = detached.max().item<float>();
    if (!range.seen) {
      range = {true, lo, hi};
    } else if (mode_ == QuantMode::kObserve) {
      range.min = std::min(range.min, lo);
      range.max = std::max(range.max, hi);
    } else {
      range.min += kRangeMomentum * (lo - range.min);
      range.max += kRangeMomentum * (hi - range.max);
    }
  }
  if (mode_ != QuantMode::kFakeQuant || !range.seen) return x;
  const AffineParams p = ActivationParams(range);
  return torch::fake_quantize_per_tensor_affine(
      x, p.scale, p.zero_point, 0, kActivationQuantMax);
}

torch::Tensor Network::Forward(const torch::Tensor& input) {
  torch::Tensor x = Quantize(input, 0);
  for (size_t i = 0; i < specs_.size(); ++i) {
    const LayerSpec& spec = specs_[i];
    if (spec.flatten_before) x = x.flatten(1);
    torch::Tensor w = weight(i);
    if (mode_ == QuantMode::kFakeQuant) {
      w = torch::fake_quantize_per_channel_affine(
          w, WeightScales(w),
          torch::zeros({spec.out}, torch::TensorOptions(torch::kInt)), 0,
          -127, 127);
    }
    const torch::Tensor& b = bias(i);
    if (spec.kind == LayerSpec::Kind::kConv2d) {
      x = torch::conv2d(x, w, b, spec.stride, spec.padding);
    } else {
      x = torch::linear(x, w, b);
    }
    if (spec.relu) x = torch::relu(x);
    x = Quantize(x, i + 1);
    if (spec.pool > 0) x = torch::max_pool2d(x, spec.pool, spec.pool_stride);
    if (spec.dropout > 0.0 && is_training()) x = Dropout(x, spec.dropout);
  }
  return x;
}

// torch::dropout's inverted dropout, but drawn from this network's own
// generator: LibTorch's global one is shared by every model in the process,
// so it would make a seeded client's training depend on its neighbours.
torch::Tensor Network::Dropout(const torch::Tensor& x, double p) {
  torch::Tensor keep =
      torch::empty_like(x).bernoulli_(1.0 - p, dropout_generator_);
  return x * keep.div_(1.0 - p);
}

void Network::SeedDropout(uint64_t seed) {
  std::lock_guard<std::mutex> lock(dropout_generator_.mutex());
  dropout_generator_.set_current_seed(seed);
}

void Network::SetMask(size_t layer, torch::Tensor mask) {
  CHECK(mask.sizes() == weight(layer).sizes());
  masks_.at(layer) = std::move(mask);
  ApplyMasks();
}

void Network::ApplyMasks() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < masks_.size(); ++i) {
    if (masks_[i].defined()) weight(i).mul_(masks_[i]);
  }
}

std::shared_ptr<Network> Network::Clone() const {
  auto copy = std::make_shared<Network>(specs_);
  torch::NoGradGuard no_grad;
  auto mine = named_parameters();
  auto theirs = copy->named_parameters();
  for (auto& item : theirs) item.value().copy_(*mine.find(item.key()));
  for (size_t i = 0; i < masks_.size(); ++i) {
    if (masks_[i].defined()) copy->masks_[i] = masks_[i].clone();
  }
  copy->ranges_ = ranges_;
  copy->mode_ = mode_;
  copy->dropout_generator_ = dropout_generator_.clone();
  copy->train(is_training());
  return copy;
}

}  // namespace cohort::ml::internal
