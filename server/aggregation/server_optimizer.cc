#include "server/aggregation/server_optimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/running_statistics.h"
#include "common/model/weights_util.h"

namespace cohort::server {
namespace {

using Kind = ServerOptimizerOptions::Kind;

// Tensor i of a stored moment when it has `size` values, else empty (no
// state yet: the caller uses the initial value).
std::span<const float> MomentOf(const cohort::v1::Weights& moment, int i,
                                size_t size) {
  if (i >= moment.tensors_size()) return {};
  std::span<const float> v = model::FloatView(moment.tensors(i));
  return v.size() == size ? v : std::span<const float>();
}

// A FLOAT32 tensor named and shaped as `like`, holding `values`.
void AddLike(const cohort::v1::Tensor& like, std::span<const float> values,
             cohort::v1::Weights* out) {
  cohort::v1::Tensor* t = out->add_tensors();
  t->set_name(like.name());
  *t->mutable_shape() = like.shape();
  model::SetFloatData(values, t);
}

absl::Status Corrupt(const std::string& what) {
  return absl::DataLossError(
      absl::StrCat("stored server optimizer state: ", what));
}

}  // namespace

std::string_view OptimizerName(Kind kind) {
  switch (kind) {
    case Kind::kFedAdam:
      return "fedadam";
    case Kind::kFedYogi:
      return "fedyogi";
    case Kind::kFedAdagrad:
      return "fedadagrad";
    case Kind::kFedAvg:
      break;
  }
  return "fedavg";
}

ServerOptimizer::ServerOptimizer(const ServerOptimizerOptions& options)
    : options_(options) {
  Reset();
}

void ServerOptimizer::Reset() {
  state_.Clear();
  state_.set_optimizer(std::string(OptimizerName(options_.kind)));
}

double ServerOptimizer::SecondMoment(double v, double d) const {
  const double d2 = d * d;
  switch (options_.kind) {
    case Kind::kFedAdagrad:
      return v + d2;
    case Kind::kFedAdam:
      return options_.beta2 * v + (1 - options_.beta2) * d2;
    case Kind::kFedYogi: {
      const double sign = v > d2 ? 1.0 : (v < d2 ? -1.0 : 0.0);
      return v - (1 - options_.beta2) * d2 * sign;
    }
    case Kind::kFedAvg:
      break;
  }
  return v;
}

absl::StatusOr<ServerOptimizer::StepResult> ServerOptimizer::Step(
    const cohort::v1::Weights& model,
    const cohort::v1::Weights& mean_delta) const {
  if (model.tensors_size() != mean_delta.tensors_size()) {
    return absl::InvalidArgumentError("delta layout differs from the model");
  }
  const bool stateful = adaptive() || options_.momentum != 0;
  const double eta = options_.learning_rate, tau = options_.tau;
  StepResult out;
  out.weights = model;
  out.state.set_optimizer(state_.optimizer());
  std::vector<float> w, m, v;
  for (int i = 0; i < model.tensors_size(); ++i) {
    auto base = model::FloatView(model.tensors(i));
    auto delta = model::FloatView(mean_delta.tensors(i));
    if (base.size() != delta.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", i, " size differs from the model"));
    }
    const size_t n = base.size();
    auto prev_m = MomentOf(state_.first_moment(), i, n);
    auto prev_v = MomentOf(state_.second_moment(), i, n);
    w.resize(n);
    m.resize(n);
    v.resize(adaptive() ? n : 0);
    // Running statistics are not gradients: they take the mean delta as it
    // is, and their moments stay at the start values.
    const bool statistic = model::IsRunningStatistic(model.tensors(i));
    for (size_t j = 0; j < n; ++j) {
      const double d = delta[j];
      if (statistic) {
        w[j] = static_cast<float>(base[j] + d);
        m[j] = 0.0f;
        if (adaptive()) v[j] = static_cast<float>(tau * tau);
        continue;
      }
      const double pm = prev_m.empty() ? 0.0 : prev_m[j];
      if (!adaptive()) {
        m[j] = static_cast<float>(options_.momentum * pm + d);
        w[j] = static_cast<float>(base[j] + eta * m[j]);
        continue;
      }
      const double pv = prev_v.empty() ? tau * tau : prev_v[j];
      m[j] = static_cast<float>(options_.beta1 * pm + (1 - options_.beta1) * d);
      // A huge delta may square past float's range: v saturates at the
      // largest float instead of becoming inf (stored, it would be refused
      // on restart), and the step it gives is then ~0.
      v[j] = static_cast<float>(std::min(
          SecondMoment(pv, d), double{std::numeric_limits<float>::max()}));
      w[j] = static_cast<float>(base[j] +
                                eta * m[j] / (std::sqrt(double{v[j]}) + tau));
    }
    model::SetFloatData(w, out.weights.mutable_tensors(i));
    if (stateful) AddLike(model.tensors(i), m, out.state.mutable_first_moment());
    if (adaptive()) AddLike(model.tensors(i), v, out.state.mutable_second_moment());
  }
  model::ClampVariances(&out.weights);
  return out;
}

absl::Status ServerOptimizer::Restore(
    const cohort::v1::ServerOptimizerState& state,
    const cohort::v1::Weights& model) {
  Reset();
  if (state.optimizer() != state_.optimizer()) return absl::OkStatus();
  for (const cohort::v1::Weights* moment :
       {&state.first_moment(), &state.second_moment()}) {
    if (moment->tensors_size() == 0) continue;
    if (absl::Status s = model::ValidateDelta(model, *moment); !s.ok()) {
      return Corrupt(std::string(s.message()));
    }
  }
  if (adaptive() && state.first_moment().tensors_size() !=
                        state.second_moment().tensors_size()) {
    return Corrupt("the first and second moments differ in size");
  }
  for (const cohort::v1::Tensor& t : state.second_moment().tensors()) {
    for (float x : model::FloatView(t)) {
      if (x < 0) return Corrupt("a negative second moment");
    }
  }
  state_ = state;
  return absl::OkStatus();
}

}  // namespace cohort::server
