#include "common/model/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/weights_util.h"

namespace cohort::model {
namespace {

using cohort::v1::Tensor;
using cohort::v1::Weights;

absl::Status CheckFloatTensor(const Tensor& t) {
  const int64_t n = ElementCount(t);
  if (n < 0 || static_cast<int64_t>(t.data().size()) != n * 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name(), "' carries ", t.data().size(),
                     " bytes for ", n, " fp32 elements"));
  }
  if (!AllFinite(FloatView(t))) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name(), "' holds NaN or Inf"));
  }
  return absl::OkStatus();
}

// Elements per slice of `axis` in row-major order.
int64_t InnerSize(const Tensor& t, int axis) {
  int64_t inner = 1;
  for (int d = axis + 1; d < t.shape_size(); ++d) inner *= t.shape(d);
  return inner;
}

void QuantizeTensor(const Tensor& in, Tensor* out) {
  const std::span<const float> values = FloatView(in);
  const int64_t channels = in.shape(0);
  const int64_t per_channel = channels == 0 ? 0 : ElementCount(in) / channels;
  out->set_dtype(cohort::v1::DTYPE_INT8);
  out->set_quant_axis(0);
  out->clear_scales();
  std::string payload(values.size(), '\0');
  for (int64_t c = 0; c < channels; ++c) {
    const std::span<const float> slice =
        values.subspan(c * per_channel, per_channel);
    float max_abs = 0.0f;
    for (float v : slice) max_abs = std::max(max_abs, std::fabs(v));
    // Clamped into what DequantizeWeights accepts: a subnormal channel
    // would otherwise get scale 0, a channel near FLT_MAX one whose -128
    // overflows.
    const float scale =
        max_abs > 0.0f
            ? std::clamp(static_cast<float>(max_abs / double{kInt8Max}),
                         kMinInt8Scale, kMaxInt8Scale)
            : kZeroChannelScale;
    out->add_scales(scale);
    for (int64_t i = 0; i < per_channel; ++i) {
      // Division in double keeps |x / scale| <= 127 up to rounding, and the
      // clamp absorbs what is left, so the error stays within scale / 2.
      double q = std::nearbyint(static_cast<double>(slice[i]) / scale);
      q = std::clamp(q, -double{kInt8Max}, double{kInt8Max});
      payload[c * per_channel + i] =
          static_cast<char>(static_cast<int8_t>(q));
    }
  }
  out->set_data(std::move(payload));
}

absl::Status CheckInt8Tensor(const Tensor& t) {
  const int64_t n = ElementCount(t);
  if (n < 0 || static_cast<int64_t>(t.data().size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name(), "' carries ", t.data().size(),
                     " bytes for ", n, " int8 elements"));
  }
  if (t.quant_axis() < 0 || t.quant_axis() >= t.shape_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name(), "' has quant_axis ",
                     t.quant_axis(), " outside its rank ", t.shape_size()));
  }
  if (t.scales_size() != t.shape(t.quant_axis())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", t.name(), "' has ", t.scales_size(), " scales for ",
        t.shape(t.quant_axis()), " slices"));
  }
  for (float s : t.scales()) {
    if (!std::isfinite(s) || !(s > 0.0f) || s > kMaxInt8Scale) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name(), "' has scale ", s,
                       "; want > 0 and at most ", kMaxInt8Scale));
    }
  }
  return absl::OkStatus();
}

void DequantizeTensor(const Tensor& in, Tensor* out) {
  const int axis = in.quant_axis();
  const int64_t inner = InnerSize(in, axis);
  const int64_t dim = in.shape(axis);
  std::vector<float> values(in.data().size());
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t slice = (static_cast<int64_t>(i) / inner) % dim;
    values[i] = static_cast<float>(static_cast<int8_t>(in.data()[i])) *
                in.scales(static_cast<int>(slice));
  }
  SetFloatData(values, out);
  out->clear_scales();
  out->clear_quant_axis();
}

}  // namespace

bool ShouldQuantize(const Tensor& tensor) {
  if (tensor.dtype() != cohort::v1::DTYPE_FLOAT32) return false;
  if (tensor.shape_size() < 2 || tensor.shape(0) <= 0) return false;
  const int64_t n = ElementCount(tensor);
  if (n <= 0) return false;
  return n + 4 * tensor.shape(0) < 4 * n;
}

absl::StatusOr<Weights> QuantizeWeights(const Weights& weights) {
  Weights out;
  for (const Tensor& t : weights.tensors()) {
    if (t.dtype() != cohort::v1::DTYPE_FLOAT32) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", t.name(), "' is ", cohort::v1::DType_Name(t.dtype()),
          "; only FLOAT32 weights can be quantized"));
    }
    if (absl::Status s = CheckFloatTensor(t); !s.ok()) return s;
    Tensor* q = out.add_tensors();
    *q = t;
    if (ShouldQuantize(t)) QuantizeTensor(t, q);
  }
  return out;
}

absl::StatusOr<Weights> DequantizeWeights(const Weights& weights) {
  Weights out;
  for (const Tensor& t : weights.tensors()) {
    Tensor* f = out.add_tensors();
    *f = t;
    if (t.dtype() == cohort::v1::DTYPE_FLOAT32) {
      if (absl::Status s = CheckFloatTensor(t); !s.ok()) return s;
    } else if (t.dtype() == cohort::v1::DTYPE_INT8) {
      if (absl::Status s = CheckInt8Tensor(t); !s.ok()) return s;
      DequantizeTensor(t, f);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name(), "' has unsupported dtype ",
                       cohort::v1::DType_Name(t.dtype())));
    }
  }
  return out;
}

bool IsQuantized(const Weights& weights) {
  for (const Tensor& t : weights.tensors()) {
    if (t.dtype() == cohort::v1::DTYPE_INT8) return true;
  }
  return false;
}

int64_t SerializedSizeBytes(const Weights& weights) {
  return static_cast<int64_t>(SerializeWeights(weights).size());
}

int64_t PayloadSizeBytes(const Weights& weights) {
  int64_t total = 0;
  for (const Tensor& t : weights.tensors()) {
    total += static_cast<int64_t>(t.data().size()) + 4 * t.scales_size();
  }
  return total;
}

}  // namespace cohort::model
