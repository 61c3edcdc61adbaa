#ifndef COHORT_SERVER_AGGREGATION_SERVER_OPTIMIZER_H_
#define COHORT_SERVER_AGGREGATION_SERVER_OPTIMIZER_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::server {

// Which server optimizer, with its hyperparameters (RoundConfig's server_*
// fields, resolved and checked by ResolveRoundOptions).
struct ServerOptimizerOptions {
  enum class Kind { kFedAvg, kFedAdam, kFedYogi, kFedAdagrad };
  Kind kind = Kind::kFedAvg;
  double learning_rate = 1.0;  // eta, > 0
  double momentum = 0.0;       // FedAvg only, in [0, 1)
  double beta1 = 0.9;          // adaptive only, in (0, 1)
  double beta2 = 0.99;         // FedAdam and FedYogi, in (0, 1)
  double tau = 1e-3;           // adaptive only, in (0, 1]
};

// "fedavg", "fedadam", "fedyogi", "fedadagrad".
std::string_view OptimizerName(ServerOptimizerOptions::Kind kind);

// The server-side step that turns a round's mean delta d into new weights
// w, coordinate by coordinate, in double precision with float state:
//
//   FedAvg(M)  (Hsu et al. 2019)   m = momentum * m + d;  w += eta * m
//   adaptive   (Reddi et al. 2021, "Adaptive Federated Optimization",
//               Algorithm 2)        m = beta1 * m + (1 - beta1) * d
//     FedAdagrad                    v = v + d^2
//     FedAdam                       v = beta2 * v + (1 - beta2) * d^2
//     FedYogi                       v = v - (1 - beta2) * d^2 * sign(v - d^2)
//                                   w += eta * m / (sqrt(v) + tau)
//
// with m = 0 and v = tau^2 before the first step, and no bias correction,
// as in the paper; v saturates at the largest float. FedAvg with momentum
// 0 keeps no state (w += eta * d). Batch norm's running statistics
// (model::IsRunningStatistic) are not gradients: every optimizer sets them
// to w + d, their moments stay at the start values, and a variance below 0
// becomes 0.
//
// The state is a cohort.v1.ServerOptimizerState, which the committer stores
// with each version: Restore() resumes from it exactly, so a restarted
// coordinator computes the same weights as one that never stopped.
//
// Not thread-safe (the engine's driver thread owns it). Step() does not
// change state; Accept() adopts a step's state once its version is
// committed, so a failed commit leaves the optimizer as it was.
class ServerOptimizer {
 public:
  explicit ServerOptimizer(const ServerOptimizerOptions& options);

  struct StepResult {
    cohort::v1::Weights weights;
    // The state after this step.
    cohort::v1::ServerOptimizerState state;
  };
  // INVALID_ARGUMENT if the layouts of `model` and `mean_delta` differ.
  absl::StatusOr<StepResult> Step(const cohort::v1::Weights& model,
                                  const cohort::v1::Weights& mean_delta) const;
  void Accept(StepResult&& step) { state_ = std::move(step.state); }
  // Forgets the state: the next step starts as the first did (after the
  // weights jumped, e.g. a rollback).
  void Reset();

  // The state after the last accepted step.
  const cohort::v1::ServerOptimizerState& state() const { return state_; }

  // Adopts a stored state for weights laid out like `model`. An empty state
  // or one of another optimizer (the operator switched) starts fresh and
  // returns OK. DATA_LOSS when the state is of this optimizer but its
  // moments do not match the model's layout, hold a non-finite value, or
  // (adaptive) a negative second moment.
  absl::Status Restore(const cohort::v1::ServerOptimizerState& state,
                       const cohort::v1::Weights& model);

 private:
  bool adaptive() const {
    return options_.kind != ServerOptimizerOptions::Kind::kFedAvg;
  }
  // v after one step from `v` with delta coordinate `d`.
  double SecondMoment(double v, double d) const;

  const ServerOptimizerOptions options_;
  cohort::v1::ServerOptimizerState state_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_SERVER_OPTIMIZER_H_
