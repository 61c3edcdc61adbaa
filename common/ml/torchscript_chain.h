#ifndef COHORT_COMMON_ML_TORCHSCRIPT_CHAIN_H_
#define COHORT_COMMON_ML_TORCHSCRIPT_CHAIN_H_

// Internal to common/ml: reads a TorchScript module's forward graph as a
// chain of LayerSpecs, the form every Cohort model takes.

#include <torch/csrc/jit/api/module.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ml/zoo.h"

namespace cohort::ml::internal {

// A translated layer and the module parameters that feed it.
struct ChainLayer {
  LayerSpec spec;
  std::string weight_path;  // e.g. "features.0.weight"
  std::string bias_path;    // empty if the layer has no bias
};

// Walks the inlined forward graph. Accepts only a single chain of
// conv2d (groups 1, dilation 1, square kernel), linear, relu, max_pool2d
// (no padding, dilation or ceil_mode), flatten/view/reshape and dropout (a
// no-op at inference). INVALID_ARGUMENT naming the first op that does not
// fit. May throw c10::Error.
absl::StatusOr<std::vector<ChainLayer>> ReadChain(torch::jit::Module& module);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_TORCHSCRIPT_CHAIN_H_
