#ifndef COHORT_COMMON_ML_INT8_NET_H_
#define COHORT_COMMON_ML_INT8_NET_H_

// Internal to common/ml: a Network lowered onto LibTorch's quantized kernels.

#include <ATen/Context.h>
#include <ATen/core/Tensor.h>
#include <ATen/native/quantized/PackedParams.h>

#include <vector>

#include "common/ml/network.h"

namespace cohort::ml::internal {

// A weight on the int8 artifact's per-channel grid (common/model/quantize.h):
// qint8, symmetric, axis 0, scales WeightScales. The kernels and the ONNX
// export both use it, so both run exactly the weights a device downloads.
at::Tensor QuantizeWeight(const at::Tensor& weight);

// Built for one engine (packed weights are engine-specific). Batch norm is
// folded into its conv (Network::FoldedWeights) before quantization; a
// residual addition is quantized::add(_relu), hardswish quantized::hardswish,
// ReLU6 the ReLU kernel whose output range ends at most at 6. `network` must
// have activation ranges (Network::HasRanges). Throws c10::Error on failure.
class Int8Net {
 public:
  Int8Net(Network& network, at::QEngine engine);

  at::QEngine engine() const { return engine_; }
  // fp32 batch [N, 1, 28, 28] in, fp32 logits out; int8 in between.
  at::Tensor Forward(const at::Tensor& input) const;

 private:
  struct Layer {
    LayerSpec spec;
    c10::intrusive_ptr<ConvPackedParamsBase<2>> conv;
    c10::intrusive_ptr<LinearPackedParamsBase> linear;
    AffineParams inner;  // before the residual addition or hardswish
    AffineParams output;
  };
  // The conv or linear kernel, with ReLU fused when nothing comes between.
  at::Tensor Kernel(const Layer& layer, const at::Tensor& x) const;
  at::QEngine engine_;
  AffineParams input_;
  std::vector<Layer> layers_;
};

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_INT8_NET_H_
