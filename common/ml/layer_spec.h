#ifndef COHORT_COMMON_ML_LAYER_SPEC_H_
#define COHORT_COMMON_ML_LAYER_SPEC_H_

// Internal to common/ml: one layer of a Network's chain (network.h), without
// LibTorch, so that the chain spec parser (chain_spec.h) builds alone, for
// its fuzzer too.

#include <cstdint>
#include <string>

namespace cohort::ml::internal {

inline constexpr int kImageSide = 28;
inline constexpr int kNumClasses = 10;

// One layer of the chain.
struct LayerSpec {
  enum class Kind { kConv2d, kLinear };
  Kind kind = Kind::kLinear;
  // Parameter prefix: "<name>.weight", "<name>.bias".
  std::string name;
  int64_t in = 0;   // input channels or features
  int64_t out = 0;  // output channels or features
  int64_t kernel = 1, stride = 1, padding = 0;  // kConv2d only
  bool bias = true;
  bool flatten_before = false;  // flatten [N, C, H, W] to [N, C*H*W] first
  bool relu = false;
  int64_t pool = 0;  // max-pool kernel after the layer; 0 for none
  int64_t pool_stride = 0;
  // Dropout probability on the layer's output (after ReLU and pooling),
  // applied in training mode only; 0 for none, otherwise in (0, 1).
  double dropout = 0.0;
};

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_LAYER_SPEC_H_
