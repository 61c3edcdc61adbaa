#ifndef COHORT_SERVER_AGGREGATION_SERVER_OPTIMIZER_H_
#define COHORT_SERVER_AGGREGATION_SERVER_OPTIMIZER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::server {

// The server-side step that turns a round's mean delta into new weights.
// FedAvg is learning_rate 1 and momentum 0: w += mean_delta. FedAvgM
// (Hsu et al. 2019) keeps a velocity v = momentum * v + mean_delta and moves
// w += learning_rate * v, which damps client drift on non-IID data.
//
// The velocity lives in memory only; after a restart it starts from zero.
// Not thread-safe (the engine's driver thread owns it). Step() does not
// change state; Accept() adopts the velocity of a step once its version is
// committed, so a failed commit leaves the optimizer as it was.
class ServerOptimizer {
 public:
  ServerOptimizer(double learning_rate, double momentum)
      : learning_rate_(learning_rate), momentum_(momentum) {}

  struct StepResult {
    cohort::v1::Weights weights;
    std::vector<std::vector<float>> velocity;
  };
  // INVALID_ARGUMENT if the layouts of `model` and `mean_delta` differ.
  absl::StatusOr<StepResult> Step(const cohort::v1::Weights& model,
                                  const cohort::v1::Weights& mean_delta) const;
  void Accept(StepResult&& step) { velocity_ = std::move(step.velocity); }
  // Forgets the momentum: the next step starts as the first did (after the
  // weights jumped, e.g. a rollback).
  void Reset() { velocity_.clear(); }

 private:
  const double learning_rate_;
  const double momentum_;
  std::vector<std::vector<float>> velocity_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_AGGREGATION_SERVER_OPTIMIZER_H_
