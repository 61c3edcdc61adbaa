#ifndef COHORT_COMMON_ML_NETWORK_H_
#define COHORT_COMMON_ML_NETWORK_H_

// Internal to common/ml: every model is a Network, a chain of conv and
// linear layers (each optionally with batch norm, a residual addition, an
// activation, pooling and dropout; layer_spec.h). Zoo architectures (zoo.h) and imported TorchScript modules are
// both translated into this form, so QAT, int8 export, pruning and
// distillation work on one representation. Nothing outside common/ml may
// include this header.

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/ml/layer_spec.h"

namespace cohort::ml::internal {

// Observed range of one activation tensor (for int8 activations).
struct ActivationRange {
  bool seen = false;
  float min = 0.0f;
  float max = 0.0f;
};

// kOff: plain fp32. kObserve: fp32, recording exact min/max (calibration).
// kFakeQuant: QAT; weights are fake-quantized per output channel (symmetric
// int8, as common/model/quantize.h) and activations per tensor (uint8,
// affine) with moving-average ranges, gradients pass straight through.
enum class QuantMode { kOff, kObserve, kFakeQuant };

// A layer's batch norm: scale and shift are trained; the running mean and
// variance are buffers, updated in training and federated with the weights
// (docs/DECISIONS.md, "Batch norm in rounds"). All [out].
struct BatchNormTensors {
  torch::Tensor weight, bias, running_mean, running_var;
};

// Maps a float batch [N, 1, 28, 28] to logits [N, 10]. Owns its layers;
// parameters are named "<layer>.weight" / "<layer>.bias" in chain order,
// batch norm's "<layer>.bn.weight" / "<layer>.bn.bias" and its buffers
// "<layer>.bn.running_mean" / "<layer>.bn.running_var".
//
// Batch norm normalises with the batch's statistics in plain training and
// with the running ones otherwise. Under QAT it is folded into the conv
// (FoldedWeights, with the running statistics, which training still
// updates), so the fake-quantized weight is the one int8 runs.
// In training mode (train()) layers with a dropout probability drop
// activations with masks from the network's own generator, so a seeded run
// is reproducible; in eval mode dropout is the identity. Not thread-safe.
class Network : public torch::nn::Module {
 public:
  explicit Network(std::vector<LayerSpec> specs);

  torch::Tensor Forward(const torch::Tensor& input);

  const std::vector<LayerSpec>& specs() const { return specs_; }
  torch::Tensor& weight(size_t layer);
  // Undefined tensor if the layer has no bias.
  torch::Tensor& bias(size_t layer);
  // Only for a layer with spec.batch_norm.
  const BatchNormTensors& batch_norm(size_t layer) const;
  // The weight and bias the layer computes with outside plain training:
  // with batch norm folded in (w * g / sqrt(var + eps) per output channel,
  // (b - mean) * g / sqrt(var + eps) + beta); otherwise weight() and bias().
  // Differentiable. A negative running variance counts as 0.
  std::pair<torch::Tensor, torch::Tensor> FoldedWeights(size_t layer);

  // Every tensor a round carries: parameters, then batch-norm buffers.
  torch::OrderedDict<std::string, torch::Tensor> NamedState() const;

  void set_quant_mode(QuantMode mode) { mode_ = mode; }
  QuantMode quant_mode() const { return mode_; }
  // ranges()[0] is the input, ranges()[i + 1] the output of layer i (after
  // its activation, before pooling). inner_ranges()[i] is layer i's output
  // before its residual addition or hardswish (LayerSpec::has_inner_range),
  // unused otherwise.
  std::vector<ActivationRange>& ranges() { return ranges_; }
  std::vector<ActivationRange>& inner_ranges() { return inner_ranges_; }
  bool HasRanges() const;
  void ResetRanges();

  // Unstructured-pruning masks: a layer with a mask keeps its masked weights
  // at zero through training (ApplyMasks after every optimizer step).
  void SetMask(size_t layer, torch::Tensor mask);
  void ApplyMasks();

  // Restarts the dropout masks' random stream from `seed` (TrainLoop does
  // this with TrainOptions.seed). No effect on a chain without dropout.
  void SeedDropout(uint64_t seed);

  // A deep copy: weights, ranges, masks, mode and dropout generator state.
  std::shared_ptr<Network> Clone() const;

  // The generator of the dropout masks (tests: a clone owns its own).
  const at::Generator& dropout_generator() const { return dropout_generator_; }

 private:
  torch::Tensor Quantize(torch::Tensor x, ActivationRange& range);
  torch::Tensor Dropout(const torch::Tensor& x, double p);
  // Conv or linear, batch norm included.
  torch::Tensor LayerOp(size_t i, const torch::Tensor& x);
  torch::Tensor ConvOp(size_t i, const torch::Tensor& x,
                       const torch::Tensor& w, const torch::Tensor& b);
  // Moves the running statistics towards the batch's (training, no grad).
  void UpdateRunningStats(size_t i, const torch::Tensor& x);
  torch::Tensor FakeQuantWeight(const torch::Tensor& w) const;

  std::vector<LayerSpec> specs_;
  std::vector<torch::Tensor> weights_;
  std::vector<torch::Tensor> biases_;
  std::vector<BatchNormTensors> batch_norms_;
  std::vector<torch::Tensor> masks_;
  std::vector<ActivationRange> ranges_;
  std::vector<ActivationRange> inner_ranges_;
  QuantMode mode_ = QuantMode::kOff;
  at::Generator dropout_generator_;
};

// uint8 affine parameters (scale, zero point) covering `range` and 0.
struct AffineParams {
  double scale = 1.0;
  int64_t zero_point = 0;
};
AffineParams ActivationParams(const ActivationRange& range);

// Per-output-channel symmetric int8 scales of a weight (max|w_c| / 127, or
// 1 for an all-zero channel), as float [out].
torch::Tensor WeightScales(const torch::Tensor& weight);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_NETWORK_H_
