#ifndef COHORT_COMMON_ML_TORCHSCRIPT_CHAIN_H_
#define COHORT_COMMON_ML_TORCHSCRIPT_CHAIN_H_

// Internal to common/ml: reads a TorchScript module's forward graph as a
// chain of LayerSpecs, the form every Cohort model takes.
//
// The rule is that whatever changes training is either carried into the
// LayerSpec or refused: nothing the module says is dropped silently. Each
// refusal names the layer that caused it by the submodule path and class
// that inlining recorded for the op ("layer features.3 (BatchNorm2d)").

#include <torch/csrc/jit/api/module.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ml/network.h"
#include "common/ml/torchscript_graph.h"

namespace cohort::ml::internal {

// A translated layer and the module parameters that feed it.
struct ChainLayer {
  LayerSpec spec;
  ModuleOrigin origin;
  std::string weight_path;  // e.g. "features.0.weight"
  std::string bias_path;    // empty if the layer has no bias
  // The BatchNorm2d module after a conv ("features.1"), or empty.
  std::string batch_norm_path;
  // padding="same": spec.padding is still 0 and must be resolved from the
  // kernel size, which only the weight's shape tells.
  bool pad_same = false;
};

// "layer features.0 (Conv2d)"; for a layer op written in the root forward,
// "layer features.0" after the module that holds its weight.
std::string DescribeLayer(const ChainLayer& layer);

// Walks the inlined forward graph. Accepts only a single chain of
// conv2d / _convolution / _convolution_mode (any constant groups, dilation
// 1, square constant stride; padding a square constant, "valid", or "same"
// with stride 1), a scripted BatchNorm2d right after a conv (default
// momentum and eps, affine, with running statistics), linear, relu, relu6
// (hardtanh(0, 6)), hardswish, max_pool2d and avg_pool2d (no padding or
// ceil_mode), adaptive_avg_pool2d to 1x1, flatten/view/reshape (before
// linear layers only), element-wise dropout after a layer, and add of the
// chain and an earlier layer's input (an identity residual, before the
// activation). Ops inside a submodule that does not reduce to these (a
// padding_mode's aten::pad, control flow) are refused. Dropout whose training
// flag is a module's `training` attribute (scripted nn.Dropout) is carried as
// LayerSpec::dropout; with the constant flag False (a module traced in eval
// mode) it is the identity in every mode and is left out, with a warning in
// the log; anything else is refused. INVALID_ARGUMENT naming the first op
// that does not fit, and its layer when it has one. May throw c10::Error.
absl::StatusOr<std::vector<ChainLayer>> ReadChain(torch::jit::Module& module);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_TORCHSCRIPT_CHAIN_H_
