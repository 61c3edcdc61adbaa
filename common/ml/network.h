#ifndef COHORT_COMMON_ML_NETWORK_H_
#define COHORT_COMMON_ML_NETWORK_H_

// Internal to common/ml: every model is a Network, a straight chain of conv
// and linear layers (each optionally followed by ReLU, max-pooling and
// dropout). Zoo architectures (zoo.h) and imported TorchScript modules are
// both translated into this form, so QAT, int8 export, pruning and
// distillation work on one representation. Nothing outside common/ml may
// include this header.

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
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

// Maps a float batch [N, 1, 28, 28] to logits [N, 10]. Owns its layers;
// parameters are named "<layer>.weight" / "<layer>.bias" in chain order.
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

  void set_quant_mode(QuantMode mode) { mode_ = mode; }
  QuantMode quant_mode() const { return mode_; }
  // ranges()[0] is the input, ranges()[i + 1] the output of layer i (after
  // its ReLU, before pooling).
  std::vector<ActivationRange>& ranges() { return ranges_; }
  bool HasRanges() const;

  // Unstructured-pruning masks: a layer with a mask keeps its masked weights
  // at zero through training (ApplyMasks after every optimizer step).
  void SetMask(size_t layer, torch::Tensor mask);
  void ApplyMasks();

  // Restarts the dropout masks' random stream from `seed` (TrainLoop does
  // this with TrainOptions.seed). No effect on a chain without dropout.
  void SeedDropout(uint64_t seed);

  // A deep copy: weights, ranges, masks, mode and dropout generator state.
  std::shared_ptr<Network> Clone() const;

 private:
  torch::Tensor Quantize(torch::Tensor x, size_t range_index);
  torch::Tensor Dropout(const torch::Tensor& x, double p);

  std::vector<LayerSpec> specs_;
  std::vector<torch::Tensor> weights_;
  std::vector<torch::Tensor> biases_;
  std::vector<torch::Tensor> masks_;
  std::vector<ActivationRange> ranges_;
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
