#include "server/aggregation/update_aggregator.h"

#include "absl/strings/str_cat.h"
#include "common/model/weights_util.h"

namespace cohort::server {

std::vector<size_t> TensorSizes(const cohort::v1::Weights& model) {
  std::vector<size_t> sizes;
  sizes.reserve(model.tensors_size());
  for (const auto& t : model.tensors()) {
    sizes.push_back(static_cast<size_t>(model::ElementCount(t)));
  }
  return sizes;
}

absl::Status CheckLayout(const cohort::v1::Weights& delta,
                         const std::vector<size_t>& sizes) {
  if (delta.tensors_size() != static_cast<int>(sizes.size())) {
    return absl::InvalidArgumentError("update layout differs from the model");
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (model::FloatView(delta.tensors(static_cast<int>(i))).size() !=
        sizes[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", i, " size differs from the model"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<cohort::v1::Weights> WithValues(const cohort::v1::Weights& model,
                                               std::span<const double> flat) {
  size_t total = 0;
  for (size_t n : TensorSizes(model)) total += n;
  if (total != flat.size()) {
    return absl::InvalidArgumentError("model layout changed during the round");
  }
  cohort::v1::Weights out = model;
  std::vector<float> buffer;
  size_t at = 0;
  for (int i = 0; i < out.tensors_size(); ++i) {
    buffer.resize(static_cast<size_t>(model::ElementCount(out.tensors(i))));
    for (float& v : buffer) v = static_cast<float>(flat[at++]);
    model::SetFloatData(buffer, out.mutable_tensors(i));
  }
  return out;
}

}  // namespace cohort::server
