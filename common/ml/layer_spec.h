#ifndef COHORT_COMMON_ML_LAYER_SPEC_H_
#define COHORT_COMMON_ML_LAYER_SPEC_H_

// Internal to common/ml: one layer of a Network (network.h), without
// LibTorch, so that the chain spec parser (chain_spec.h) builds alone, for
// its fuzzer too.
//
// A layer computes, in this order:
//   flatten (linear only) -> conv or linear -> batch norm (conv only)
//   -> + the input of an earlier layer (residual) -> activation
//   -> pooling (conv only) -> dropout (training only)
// The layers run one after the other; a residual reads back the tensor an
// earlier layer took as its input, which is what makes a MobileNetV2 or
// ResNet block (with an identity shortcut) expressible.

#include <cstdint>
#include <string>

namespace cohort::ml::internal {

inline constexpr int kImageSide = 28;
inline constexpr int kNumClasses = 10;

// BatchNorm2d's settings, PyTorch's defaults; import refuses others.
inline constexpr double kBatchNormMomentum = 0.1;
inline constexpr double kBatchNormEps = 1e-5;

// One layer of the chain.
struct LayerSpec {
  enum class Kind { kConv2d, kLinear };
  // kRelu6 is min(max(x, 0), 6); kHardswish is x * relu6(x + 3) / 6.
  enum class Activation { kNone, kRelu, kRelu6, kHardswish };
  // kGlobalAvg averages each channel's whole map to 1x1 (pool and
  // pool_stride are 0), as adaptive_avg_pool2d(x, 1).
  enum class Pool { kMax, kAvg, kGlobalAvg };

  Kind kind = Kind::kLinear;
  // Parameter prefix: "<name>.weight", "<name>.bias", and with batch norm
  // "<name>.bn.{weight,bias,running_mean,running_var}".
  std::string name;
  int64_t in = 0;   // input channels or features
  int64_t out = 0;  // output channels or features
  int64_t kernel = 1, stride = 1, padding = 0;  // kConv2d only
  // kConv2d only: in and out are multiples of groups; the weight is
  // [out, in / groups, kernel, kernel] (groups == in == out is depthwise).
  int64_t groups = 1;
  bool bias = true;
  // kConv2d only: BatchNorm2d(out) on the conv's output, with
  // kBatchNormMomentum and kBatchNormEps.
  bool batch_norm = false;
  // Index of an earlier layer (<= this one) whose input is added to this
  // layer's output after batch norm, before the activation; -1 for none.
  int64_t residual = -1;
  bool flatten_before = false;  // flatten [N, C, H, W] to [N, C*H*W] first
  Activation activation = Activation::kNone;
  Pool pool_kind = Pool::kMax;
  int64_t pool = 0;  // pooling kernel after the layer; 0 for none
  int64_t pool_stride = 0;
  // Dropout probability on the layer's output (after activation and
  // pooling), applied in training mode only; 0 for none, otherwise in (0, 1).
  double dropout = 0.0;

  bool pooled() const { return pool > 0 || pool_kind == Pool::kGlobalAvg; }
  // True when int8 needs a second activation range inside the layer: before
  // the residual addition, or before hardswish (which has no fused kernel).
  bool has_inner_range() const {
    return residual >= 0 || activation == Activation::kHardswish;
  }
};

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_LAYER_SPEC_H_
