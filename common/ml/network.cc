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
    return {spec.out, spec.in / spec.groups, spec.kernel, spec.kernel};
  }
  return {spec.out, spec.in};
}

// PyTorch's initial batch norm: identity scale, zero shift, and running
// statistics of a standard normal.
BatchNormTensors AddBatchNorm(torch::nn::Module& layer, int64_t channels) {
  auto bn = std::make_shared<torch::nn::Module>();
  BatchNormTensors t;
  t.weight = bn->register_parameter("weight", torch::ones({channels}));
  t.bias = bn->register_parameter("bias", torch::zeros({channels}));
  t.running_mean = bn->register_buffer("running_mean", torch::zeros({channels}));
  t.running_var = bn->register_buffer("running_var", torch::ones({channels}));
  layer.register_module("bn", bn);
  return t;
}

torch::Tensor Activate(const torch::Tensor& x, LayerSpec::Activation a) {
  switch (a) {
    case LayerSpec::Activation::kRelu:
      return torch::relu(x);
    case LayerSpec::Activation::kRelu6:
      return torch::clamp(x, 0.0, 6.0);
    case LayerSpec::Activation::kHardswish:
      return torch::hardswish(x);
    case LayerSpec::Activation::kNone:
      break;
  }
  return x;
}

torch::Tensor Pool(const torch::Tensor& x, const LayerSpec& spec) {
  switch (spec.pool_kind) {
    case LayerSpec::Pool::kGlobalAvg:
      return torch::adaptive_avg_pool2d(x, {1, 1});
    case LayerSpec::Pool::kAvg:
      return spec.pool > 0 ? torch::avg_pool2d(x, spec.pool, spec.pool_stride)
                           : x;
    case LayerSpec::Pool::kMax:
      break;
  }
  return spec.pool > 0 ? torch::max_pool2d(x, spec.pool, spec.pool_stride) : x;
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
    batch_norms_.push_back(spec.batch_norm ? AddBatchNorm(*layer, spec.out)
                                           : BatchNormTensors());
    register_module(spec.name, layer);
  }
  masks_.resize(specs_.size());
  ranges_.resize(specs_.size() + 1);
  inner_ranges_.resize(specs_.size());
}

torch::Tensor& Network::weight(size_t layer) { return weights_.at(layer); }

torch::Tensor& Network::bias(size_t layer) { return biases_.at(layer); }

const BatchNormTensors& Network::batch_norm(size_t layer) const {
  CHECK(specs_.at(layer).batch_norm);
  return batch_norms_[layer];
}

std::pair<torch::Tensor, torch::Tensor> Network::FoldedWeights(size_t layer) {
  if (!specs_.at(layer).batch_norm) return {weight(layer), bias(layer)};
  const BatchNormTensors& bn = batch_norms_[layer];
  const torch::Tensor factor =
      bn.weight * torch::rsqrt(bn.running_var.clamp_min(0.0) + kBatchNormEps);
  const torch::Tensor& b = bias(layer);
  const torch::Tensor shifted =
      b.defined() ? b - bn.running_mean : -bn.running_mean;
  return {weight(layer) * factor.reshape({-1, 1, 1, 1}),
          shifted * factor + bn.bias};
}

torch::OrderedDict<std::string, torch::Tensor> Network::NamedState() const {
  torch::OrderedDict<std::string, torch::Tensor> state = named_parameters();
  for (const auto& buffer : named_buffers()) {
    state.insert(buffer.key(), buffer.value());
  }
  return state;
}

bool Network::HasRanges() const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].has_inner_range() && !inner_ranges_[i].seen) return false;
  }
  return std::all_of(ranges_.begin(), ranges_.end(),
                     [](const ActivationRange& r) { return r.seen; });
}

void Network::ResetRanges() {
  for (ActivationRange& range : ranges_) range = ActivationRange();
  for (ActivationRange& range : inner_ranges_) range = ActivationRange();
}

torch::Tensor Network::Quantize(torch::Tensor x, ActivationRange& range) {
  if (mode_ == QuantMode::kOff) return x;
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

torch::Tensor Network::FakeQuantWeight(const torch::Tensor& w) const {
  if (mode_ != QuantMode::kFakeQuant) return w;
  return torch::fake_quantize_per_channel_affine(
      w, WeightScales(w),
      torch::zeros({w.size(0)}, torch::TensorOptions(torch::kInt)), 0, -127,
      127);
}

torch::Tensor Network::ConvOp(size_t i, const torch::Tensor& x,
                              const torch::Tensor& w, const torch::Tensor& b) {
  const LayerSpec& spec = specs_[i];
  return torch::conv2d(x, w, b, spec.stride, spec.padding, /*dilation=*/1,
                       spec.groups);
}

void Network::UpdateRunningStats(size_t i, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const torch::Tensor y = ConvOp(i, x, weight(i), bias(i));
  const BatchNormTensors& bn = batch_norms_[i];
  // As PyTorch: the running variance follows the unbiased batch variance.
  bn.running_mean.mul_(1.0 - kBatchNormMomentum)
      .add_(y.mean({0, 2, 3}), kBatchNormMomentum);
  bn.running_var.mul_(1.0 - kBatchNormMomentum)
      .add_(y.var({0, 2, 3}, /*unbiased=*/true), kBatchNormMomentum);
}

torch::Tensor Network::LayerOp(size_t i, const torch::Tensor& x) {
  const LayerSpec& spec = specs_[i];
  if (spec.kind == LayerSpec::Kind::kLinear) {
    return torch::linear(x, FakeQuantWeight(weight(i)), bias(i));
  }
  if (!spec.batch_norm) {
    return ConvOp(i, x, FakeQuantWeight(weight(i)), bias(i));
  }
  if (is_training() && mode_ != QuantMode::kFakeQuant) {
    const BatchNormTensors& bn = batch_norms_[i];
    return torch::batch_norm(ConvOp(i, x, weight(i), bias(i)), bn.weight,
                             bn.bias, bn.running_mean, bn.running_var,
                             /*training=*/true, kBatchNormMomentum,
                             kBatchNormEps, /*cudnn_enabled=*/false);
  }
  if (is_training()) UpdateRunningStats(i, x);
  auto [w, b] = FoldedWeights(i);
  return ConvOp(i, x, FakeQuantWeight(w), b);
}

torch::Tensor Network::Forward(const torch::Tensor& input) {
  torch::Tensor x = Quantize(input, ranges_[0]);
  // What each layer took as its input, for later residuals.
  std::vector<torch::Tensor> inputs(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    const LayerSpec& spec = specs_[i];
    inputs[i] = x;
    if (spec.flatten_before) x = x.flatten(1);
    x = LayerOp(i, x);
    if (spec.residual >= 0) {
      x = Quantize(x, inner_ranges_[i]) +
          inputs[static_cast<size_t>(spec.residual)];
    }
    if (spec.activation == LayerSpec::Activation::kHardswish) {
      x = Quantize(x, inner_ranges_[i]);
    }
    x = Quantize(Activate(x, spec.activation), ranges_[i + 1]);
    x = Pool(x, spec);
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
  const auto mine = NamedState();
  auto theirs = copy->NamedState();
  for (auto& item : theirs) item.value().copy_(*mine.find(item.key()));
  for (size_t i = 0; i < masks_.size(); ++i) {
    if (masks_[i].defined()) copy->masks_[i] = masks_[i].clone();
  }
  copy->ranges_ = ranges_;
  copy->inner_ranges_ = inner_ranges_;
  copy->mode_ = mode_;
  // The state, not Generator::clone(): LibTorch 1.13's GeneratorImpl::clone
  // takes one reference too many, so each clone leaked its generator
  // (2.6 KiB; found by AddressSanitizer's leak check over ml_test).
  copy->dropout_generator_.set_state(dropout_generator_.get_state());
  copy->train(is_training());
  return copy;
}

}  // namespace cohort::ml::internal
