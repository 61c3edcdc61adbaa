#include "common/model/weights_util.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace cohort::model {
namespace {

std::string ShapeString(const cohort::v1::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.shape(), ","), "]");
}

}  // namespace

int64_t ElementCount(const cohort::v1::Tensor& tensor) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : tensor.shape()) {
    if (d < 0) return -1;
    if (d == 0) {
      empty = true;
      continue;
    }
    if (nonzero > kMaxTensorElements / d) return -1;
    nonzero *= d;
  }
  return empty ? 0 : nonzero;
}

std::span<const float> FloatView(const cohort::v1::Tensor& tensor) {
  // protobuf's std::string storage is suitably aligned for float.
  return {reinterpret_cast<const float*>(tensor.data().data()),
          tensor.data().size() / sizeof(float)};
}

// Both loops below run without an early exit or a single running sum, so
// that the compiler vectorises them (this file is built at -O3): they read
// every update a coordinator receives.
bool AllFinite(std::span<const float> values) {
  // A float is NaN or infinite when its 8 exponent bits are all ones; only
  // then does adding 1 to that field carry into the sign bit. An OR of
  // integers is a reduction SSE2 vectorises, which a float compare is not.
  constexpr uint32_t kExponent = 0x7f800000u, kExponentOne = 0x00800000u;
  uint32_t carried = 0;
  for (float v : values) {
    carried |= (std::bit_cast<uint32_t>(v) & kExponent) + kExponentOne;
  }
  return (carried & 0x80000000u) == 0;
}

double SumOfSquares(std::span<const float> values) {
  constexpr size_t kLanes = 8;
  double lane[kLanes] = {};
  const size_t n = values.size(), whole = n - n % kLanes;
  for (size_t i = 0; i < whole; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      const double v = values[i + j];
      lane[j] += v * v;
    }
  }
  double sum = 0.0;
  for (size_t i = whole; i < n; ++i) sum += static_cast<double>(values[i]) * values[i];
  for (double l : lane) sum += l;
  return sum;
}

void SetFloatData(std::span<const float> values, cohort::v1::Tensor* tensor) {
  tensor->set_dtype(cohort::v1::DTYPE_FLOAT32);
  tensor->mutable_data()->assign(reinterpret_cast<const char*>(values.data()),
                                 values.size() * sizeof(float));
}

absl::Status ValidateDelta(const cohort::v1::Weights& model,
                           const cohort::v1::Weights& delta) {
  if (delta.tensors_size() != model.tensors_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("update has ", delta.tensors_size(),
                     " tensors, the model has ", model.tensors_size()));
  }
  for (int i = 0; i < model.tensors_size(); ++i) {
    const auto& m = model.tensors(i);
    const auto& d = delta.tensors(i);
    if (d.name() != m.name()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", i, " is named '", d.name(), "', expected '", m.name(),
          "'"));
    }
    if (d.shape_size() != m.shape_size() ||
        !std::equal(d.shape().begin(), d.shape().end(), m.shape().begin())) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", d.name(), "' has shape ", ShapeString(d),
                       ", expected ", ShapeString(m)));
    }
    if (d.dtype() != cohort::v1::DTYPE_FLOAT32) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", d.name(), "' must be FLOAT32"));
    }
    int64_t n = ElementCount(d);
    if (n < 0 || static_cast<int64_t>(d.data().size()) != n * 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", d.name(), "' carries ", d.data().size(),
                       " bytes, expected ", n * 4));
    }
    if (!AllFinite(FloatView(d))) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", d.name(), "' holds NaN or Inf"));
    }
  }
  return absl::OkStatus();
}

namespace {

// a op b, element by element, for FLOAT32 weights of the same layout.
template <typename Op>
absl::StatusOr<cohort::v1::Weights> Combine(const cohort::v1::Weights& a,
                                            const cohort::v1::Weights& b,
                                            Op op) {
  if (a.tensors_size() != b.tensors_size()) {
    return absl::InvalidArgumentError("weights differ in tensor count");
  }
  cohort::v1::Weights out = a;
  std::vector<float> diff;
  for (int i = 0; i < a.tensors_size(); ++i) {
    const auto& ta = a.tensors(i);
    const auto& tb = b.tensors(i);
    if (ta.name() != tb.name() || ta.dtype() != cohort::v1::DTYPE_FLOAT32 ||
        tb.dtype() != cohort::v1::DTYPE_FLOAT32 ||
        ta.data().size() != tb.data().size() || ta.data().size() % 4 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", ta.name(), "' differs in layout"));
    }
    auto va = FloatView(ta);
    auto vb = FloatView(tb);
    diff.resize(va.size());
    for (size_t j = 0; j < va.size(); ++j) diff[j] = op(va[j], vb[j]);
    SetFloatData(diff, out.mutable_tensors(i));
  }
  return out;
}

}  // namespace

absl::StatusOr<cohort::v1::Weights> Subtract(const cohort::v1::Weights& a,
                                             const cohort::v1::Weights& b) {
  return Combine(a, b, [](float x, float y) { return x - y; });
}

absl::StatusOr<cohort::v1::Weights> Add(const cohort::v1::Weights& a,
                                        const cohort::v1::Weights& b) {
  return Combine(a, b, [](float x, float y) { return x + y; });
}

double L2Norm(const cohort::v1::Weights& weights) {
  double sum = 0.0;
  for (const auto& t : weights.tensors()) sum += SumOfSquares(FloatView(t));
  return std::sqrt(sum);
}

bool ClipToNorm(cohort::v1::Weights* weights, double clip_norm) {
  const double norm = L2Norm(*weights);
  if (!(norm > clip_norm)) return false;
  const double factor = clip_norm / norm;
  for (auto& t : *weights->mutable_tensors()) ScaleTensor(&t, factor);
  return true;
}

void ScaleTensor(cohort::v1::Tensor* tensor, double factor) {
  auto values = FloatView(*tensor);
  std::vector<float> scaled(values.begin(), values.end());
  for (float& v : scaled) v = static_cast<float>(v * factor);
  SetFloatData(scaled, tensor);
}

std::string SerializeWeights(const cohort::v1::Weights& weights) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    weights.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace cohort::model
