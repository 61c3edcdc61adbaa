// Weights and int8 artifacts as devices and the coordinator receive them:
// parsed, dequantized and requantized. Whatever DequantizeWeights accepts
// must be finite, quantize again, and dequantize to the same shapes.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cohort/v1/model.pb.h"
#include "common/model/quantize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cohort::v1::Weights weights;
  if (!weights.ParseFromArray(data, static_cast<int>(size))) return 0;
  (void)cohort::model::IsQuantized(weights);
  (void)cohort::model::PayloadSizeBytes(weights);
  auto fp32 = cohort::model::DequantizeWeights(weights);
  if (!fp32.ok()) return 0;
  for (const cohort::v1::Tensor& t : fp32->tensors()) {
    const std::string& bytes = t.data();
    for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
      float v;
      std::memcpy(&v, bytes.data() + i, 4);
      if (!std::isfinite(v)) __builtin_trap();  // accepted, yet not finite
    }
  }
  auto int8 = cohort::model::QuantizeWeights(*fp32);
  if (!int8.ok()) __builtin_trap();  // valid fp32 must quantize
  auto back = cohort::model::DequantizeWeights(*int8);
  if (!back.ok() || back->tensors_size() != fp32->tensors_size()) {
    __builtin_trap();
  }
  return 0;
}
