#include "server/round/ml_task_model.h"

#include "common/base/status_macros.h"
#include "server/round/published_model.h"

namespace cohort::server {

absl::StatusOr<std::unique_ptr<MlTaskModel>> MlTaskModel::Create(
    const std::string& architecture, uint64_t seed,
    data::ImageDataset holdout) {
  if (holdout.num_examples == 0) {
    return absl::InvalidArgumentError("holdout set is empty");
  }
  COHORT_ASSIGN_OR_RETURN(auto model, ml::Model::Create(architecture, seed));
  return std::unique_ptr<MlTaskModel>(
      new MlTaskModel(architecture, std::move(model), std::move(holdout)));
}

absl::StatusOr<std::unique_ptr<MlTaskModel>> MlTaskModel::CreateFromTorchScript(
    const std::string& path, data::ImageDataset holdout) {
  if (holdout.num_examples == 0) {
    return absl::InvalidArgumentError("holdout set is empty");
  }
  COHORT_ASSIGN_OR_RETURN(auto model, ml::Model::ImportTorchScript(path));
  const std::string architecture = model->architecture();
  return std::unique_ptr<MlTaskModel>(
      new MlTaskModel(architecture, std::move(model), std::move(holdout)));
}

absl::StatusOr<std::unique_ptr<MlTaskModel>> MlTaskModel::CreateForConfig(
    const std::string& torchscript_path, const std::string& architecture,
    uint64_t seed, data::ImageDataset holdout) {
  if (!torchscript_path.empty()) {
    return CreateFromTorchScript(torchscript_path, std::move(holdout));
  }
  return Create(architecture.empty() ? "small_cnn" : architecture, seed,
                std::move(holdout));
}

absl::StatusOr<cohort::v1::Weights> MlTaskModel::InitialWeights() {
  return model_->GetWeights();
}

absl::StatusOr<std::map<std::string, double>> MlTaskModel::Evaluate(
    const cohort::v1::Weights& weights) {
  COHORT_RETURN_IF_ERROR(model_->SetWeights(weights));
  COHORT_ASSIGN_OR_RETURN(ml::EvalResult r, model_->Evaluate(holdout_));
  return std::map<std::string, double>{{"test_accuracy", r.accuracy},
                                       {"test_loss", r.mean_loss}};
}

absl::StatusOr<std::map<std::string, std::string>> MlTaskModel::Exports(
    const cohort::v1::Weights& weights) {
  COHORT_RETURN_IF_ERROR(model_->SetWeights(weights));
  COHORT_ASSIGN_OR_RETURN(std::string onnx, model_->OnnxBytes());
  return std::map<std::string, std::string>{{kOnnxExportKind, std::move(onnx)}};
}

}  // namespace cohort::server
