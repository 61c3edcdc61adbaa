#ifndef COHORT_COMMON_MODEL_QUANTIZE_H_
#define COHORT_COMMON_MODEL_QUANTIZE_H_

// The int8 model artifact: what devices download by default.
//
// Weight tensors (rank >= 2: linear [out, in], conv [out, in, kh, kw]) become
// DTYPE_INT8 with one symmetric scale per output channel (quant_axis 0):
// scale_c = max|w_c| / 127 and q = round(w / scale_c), so q is in
// [-127, 127] and value = q * scale_c. Everything int8 does not fit stays
// DTYPE_FLOAT32: biases and norm parameters (rank < 2), and tensors whose
// channels are so short that the scales would outweigh the saving.
//
// Pure C++ on protos, no LibTorch: the coordinator and the codec use it.
// All functions are thread-compatible (no shared state).

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::model {

// int8 quantization range; -128 is left unused so the grid is symmetric.
inline constexpr int kInt8Max = 127;

// The scales an artifact may hold: every int8 value (|q| <= 128) times its
// scale is finite, and QuantizeWeights never writes a scale outside
// [kMinInt8Scale, kMaxInt8Scale] (a subnormal channel gets kMinInt8Scale
// and quantizes to zeros, within half a scale).
inline constexpr float kMaxInt8Scale = std::numeric_limits<float>::max() / 128.0f;
inline constexpr float kMinInt8Scale = std::numeric_limits<float>::min();

// Scale used for an all-zero channel: any positive value reproduces zeros,
// and keeping every scale > 0 lets consumers divide by it.
inline constexpr float kZeroChannelScale = 1.0f;

// True when QuantizeWeights turns `tensor` (FLOAT32, validated) into int8:
// rank >= 2 and int8 payload plus one fp32 scale per channel is smaller than
// the fp32 payload.
bool ShouldQuantize(const cohort::v1::Tensor& tensor);

// Per-output-channel symmetric int8 for the tensors ShouldQuantize accepts;
// the rest are copied. INVALID_ARGUMENT if a tensor is not a well-formed
// FLOAT32 tensor (dtype, payload size) or holds NaN or Inf.
absl::StatusOr<cohort::v1::Weights> QuantizeWeights(
    const cohort::v1::Weights& weights);

// FLOAT32 weights with every INT8 tensor expanded (value = q * scale).
// This is exactly what a device trains from and computes its delta against.
// Validates untrusted input: INVALID_ARGUMENT for a bad dtype, a payload
// that does not match the shape, a quant_axis outside the shape, a scale
// count that differs from the axis length, or a scale that is not > 0 or
// over kMaxInt8Scale, naming the tensor. So every value it returns is
// finite.
absl::StatusOr<cohort::v1::Weights> DequantizeWeights(
    const cohort::v1::Weights& weights);

// True if any tensor is DTYPE_INT8.
bool IsQuantized(const cohort::v1::Weights& weights);

// Bytes of the deterministic serialization (what is stored and streamed).
int64_t SerializedSizeBytes(const cohort::v1::Weights& weights);

// Sum of payload bytes plus 4 bytes per scale: the size without protobuf
// framing or names.
int64_t PayloadSizeBytes(const cohort::v1::Weights& weights);

}  // namespace cohort::model

#endif  // COHORT_COMMON_MODEL_QUANTIZE_H_
