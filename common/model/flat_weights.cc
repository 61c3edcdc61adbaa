#include "common/model/flat_weights.h"

#include "absl/strings/str_cat.h"
#include "common/model/weights_util.h"

namespace cohort::model {

int64_t TotalElements(const cohort::v1::Weights& weights) {
  int64_t n = 0;
  for (const auto& t : weights.tensors()) n += ElementCount(t);
  return n;
}

std::vector<float> FlattenFloats(const cohort::v1::Weights& weights) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(TotalElements(weights)));
  for (const auto& t : weights.tensors()) {
    auto v = FloatView(t);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

absl::StatusOr<cohort::v1::Weights> UnflattenLike(
    const cohort::v1::Weights& layout, std::span<const double> values) {
  if (static_cast<int64_t>(values.size()) != TotalElements(layout)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", TotalElements(layout), " values, got ",
                     values.size()));
  }
  cohort::v1::Weights out;
  size_t offset = 0;
  std::vector<float> buf;
  for (const auto& t : layout.tensors()) {
    auto* o = out.add_tensors();
    o->set_name(t.name());
    o->set_dtype(cohort::v1::DTYPE_FLOAT32);
    *o->mutable_shape() = t.shape();
    const auto n = static_cast<size_t>(ElementCount(t));
    buf.assign(values.begin() + offset, values.begin() + offset + n);
    SetFloatData(buf, o);
    offset += n;
  }
  return out;
}

}  // namespace cohort::model
