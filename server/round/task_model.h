#ifndef COHORT_SERVER_ROUND_TASK_MODEL_H_
#define COHORT_SERVER_ROUND_TASK_MODEL_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "cohort/v1/model.pb.h"

namespace cohort::server {

// What the round engine needs from the ML side of a task: the first weights
// and an evaluation of each candidate version on the server's holdout set.
// Injected so that round tests run without LibTorch. Called from the engine's
// driver thread only; implementations need not be thread-safe.
class TaskModel {
 public:
  virtual ~TaskModel() = default;
  virtual const std::string& architecture() const = 0;
  // Weights of version 1 when a task starts with an empty history.
  virtual absl::StatusOr<cohort::v1::Weights> InitialWeights() = 0;
  // Metrics such as "test_accuracy" and "test_loss".
  virtual absl::StatusOr<std::map<std::string, double>> Evaluate(
      const cohort::v1::Weights& weights) = 0;
  // Files other runtimes load, made from `weights`, by artifact kind (e.g.
  // "onnx"): a signed release lists their SHA-256 and size beside the
  // artifacts devices download, so whoever rebuilds one from the release's
  // weights (`cohortctl model export --manifest`) can check it against the
  // signature. Must be deterministic. None by default.
  virtual absl::StatusOr<std::map<std::string, std::string>> Exports(
      const cohort::v1::Weights& weights) {
    return std::map<std::string, std::string>();
  }
};

// The zoo architecture a config names: empty when `torchscript_path` is set
// (an imported module names its own, and overrides `architecture`), else
// `architecture`, else `fallback`. The one rule ServerOptions and SimOptions
// share.
inline std::string ZooArchitecture(const std::string& torchscript_path,
                                   const std::string& architecture,
                                   const std::string& fallback) {
  if (!torchscript_path.empty()) return "";
  return architecture.empty() ? fallback : architecture;
}

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_TASK_MODEL_H_
