#ifndef COHORT_COMMON_ML_ONNX_EXPORT_H_
#define COHORT_COMMON_ML_ONNX_EXPORT_H_

// Internal to common/ml: a Network as an ONNX model (onnx.proto from Debian's
// libonnx), for Model::ExportOnnx and Int8Model::ExportOnnx.
//
// The graph, opset 13 (IR version 7):
//   input  "image"  float [N, 1, 28, 28], pixel / 255 in [0, 1]
//   Sub(kPixelMean), Div(kPixelStd)            Cohort's normalisation
//   per layer: [Flatten] Conv(group) | Gemm(transB) [Add] [Relu |
//              Clip(0, 6) | x * HardSigmoid(1/6, 1/2)]
//              [MaxPool | AveragePool | GlobalAveragePool]
// Batch norm is folded into its conv (Network::FoldedWeights); Add takes
// the input of an earlier layer (a residual).
//   output "logits" float [N, 10]
// In the int8 form ("QDQ", ONNX Runtime's quantization format) every
// activation passes QuantizeLinear/DequantizeLinear with the network's uint8
// per-tensor parameters (a residual or hardswish layer also before the Add
// or the activation), weights are stored int8 with symmetric per-output-
// channel scales (DequantizeLinear axis 0, the grid of common/model/quantize.h)
// and biases int32 at input scale x weight scale, as LibTorch's quantized
// kernels use them. Runtimes fuse the pairs into integer kernels.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ml/network.h"

namespace cohort::ml::internal {

inline constexpr int kOnnxOpset = 13;
inline constexpr int kOnnxIrVersion = 7;

enum class OnnxPrecision { kFloat32, kInt8 };

// The serialized ModelProto of `network` in eval mode (dropout left out).
// FAILED_PRECONDITION for kInt8 without activation ranges
// (Network::HasRanges); INTERNAL if LibTorch fails.
absl::StatusOr<std::string> OnnxModelBytes(Network& network,
                                           OnnxPrecision precision,
                                           const std::string& graph_name);

// OnnxModelBytes written atomically to `path`. INTERNAL if it cannot be
// written; the errors of OnnxModelBytes.
absl::Status WriteOnnx(Network& network, OnnxPrecision precision,
                       const std::string& graph_name, const std::string& path);

}  // namespace cohort::ml::internal

#endif  // COHORT_COMMON_ML_ONNX_EXPORT_H_
