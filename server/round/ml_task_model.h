#ifndef COHORT_SERVER_ROUND_ML_TASK_MODEL_H_
#define COHORT_SERVER_ROUND_ML_TASK_MODEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/data/dataset.h"
#include "common/ml/model.h"
#include "server/round/task_model.h"

namespace cohort::server {

// TaskModel backed by a zoo architecture from common/ml, evaluated on a
// holdout set held in memory. Not thread-safe (the engine's driver thread is
// its only caller).
class MlTaskModel final : public TaskModel {
 public:
  // INVALID_ARGUMENT for an unknown architecture or an empty holdout set.
  static absl::StatusOr<std::unique_ptr<MlTaskModel>> Create(
      const std::string& architecture, uint64_t seed,
      data::ImageDataset holdout);

  // The task trains an imported TorchScript module (ml::Model::
  // ImportTorchScript): its weights are the initial weights and its chain is
  // the architecture. Errors as the import's, or INVALID_ARGUMENT for an
  // empty holdout set.
  static absl::StatusOr<std::unique_ptr<MlTaskModel>> CreateFromTorchScript(
      const std::string& path, data::ImageDataset holdout);

  // The task's model as a config names it: the imported TorchScript module
  // when `torchscript_path` is set (it overrides `architecture`), else the
  // zoo `architecture` (default "small_cnn") seeded with `seed`. The one
  // choice cohort-server and cohort-sim share. Errors as above.
  static absl::StatusOr<std::unique_ptr<MlTaskModel>> CreateForConfig(
      const std::string& torchscript_path, const std::string& architecture,
      uint64_t seed, data::ImageDataset holdout);

  const std::string& architecture() const override { return architecture_; }
  absl::StatusOr<cohort::v1::Weights> InitialWeights() override;
  absl::StatusOr<std::map<std::string, double>> Evaluate(
      const cohort::v1::Weights& weights) override;
  // "onnx": ml::Model::OnnxBytes of `weights` (fp32, opset 13).
  absl::StatusOr<std::map<std::string, std::string>> Exports(
      const cohort::v1::Weights& weights) override;

 private:
  MlTaskModel(std::string architecture, std::unique_ptr<ml::Model> model,
              data::ImageDataset holdout)
      : architecture_(std::move(architecture)),
        model_(std::move(model)),
        holdout_(std::move(holdout)) {}

  std::string architecture_;
  std::unique_ptr<ml::Model> model_;
  data::ImageDataset holdout_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_ML_TASK_MODEL_H_
