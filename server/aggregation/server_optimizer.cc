#include "server/aggregation/server_optimizer.h"

#include "absl/strings/str_cat.h"
#include "common/model/weights_util.h"

namespace cohort::server {

absl::StatusOr<ServerOptimizer::StepResult> ServerOptimizer::Step(
    const cohort::v1::Weights& model,
    const cohort::v1::Weights& mean_delta) const {
  if (model.tensors_size() != mean_delta.tensors_size()) {
    return absl::InvalidArgumentError("delta layout differs from the model");
  }
  StepResult out;
  out.weights = model;
  out.velocity.resize(model.tensors_size());
  std::vector<float> w;
  for (int i = 0; i < model.tensors_size(); ++i) {
    auto base = model::FloatView(model.tensors(i));
    auto delta = model::FloatView(mean_delta.tensors(i));
    if (base.size() != delta.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", i, " size differs from the model"));
    }
    std::vector<float>& v = out.velocity[i];
    v.assign(delta.begin(), delta.end());
    if (momentum_ != 0 && i < static_cast<int>(velocity_.size()) &&
        velocity_[i].size() == v.size()) {
      for (size_t j = 0; j < v.size(); ++j) {
        v[j] = static_cast<float>(momentum_ * velocity_[i][j] + v[j]);
      }
    }
    w.assign(base.begin(), base.end());
    for (size_t j = 0; j < w.size(); ++j) {
      w[j] = static_cast<float>(w[j] + learning_rate_ * v[j]);
    }
    model::SetFloatData(w, out.weights.mutable_tensors(i));
  }
  return out;
}

}  // namespace cohort::server
