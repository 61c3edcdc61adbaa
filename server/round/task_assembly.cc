#include "server/round/task_assembly.h"

#include "common/base/status_macros.h"
#include "common/model/flat_weights.h"
#include "server/round/report_size.h"

namespace cohort::server {

absl::StatusOr<AssembledTask> AssembleTask(
    std::unique_ptr<Store> store, const TaskModelSpec& model,
    data::ImageDataset holdout, const RoundOptions& round, base::Clock* clock,
    RoundEngine::Observer observer, const ReleaseSetup& release) {
  COHORT_ASSIGN_OR_RETURN(
      AssembledTask task,
      PrepareTask(std::move(store), model, std::move(holdout), round, clock,
                  std::move(observer), release));
  COHORT_RETURN_IF_ERROR(task.engine->Start());
  return task;
}

absl::StatusOr<AssembledTask> PrepareTask(
    std::unique_ptr<Store> store, const TaskModelSpec& model,
    data::ImageDataset holdout, const RoundOptions& round, base::Clock* clock,
    RoundEngine::Observer observer, const ReleaseSetup& release) {
  AssembledTask task;
  task.store = std::move(store);
  COHORT_ASSIGN_OR_RETURN(
      task.task_model,
      MlTaskModel::CreateForConfig(model.torchscript_path, model.architecture,
                                   model.seed, std::move(holdout)));
  COHORT_ASSIGN_OR_RETURN(cohort::v1::Weights initial,
                          task.task_model->InitialWeights());
  COHORT_RETURN_IF_ERROR(CheckPersonalLayers(round, initial));
  // What devices upload: the shared tensors.
  const cohort::v1::Weights shared = round.personal.Shared(initial);
  RoundOptions planned = round;
  COHORT_RETURN_IF_ERROR(
      PlanDistributedPrivacy(planned, model::TotalElements(shared)));
  COHORT_RETURN_IF_ERROR(CheckReportFits(
      shared, planned, model.max_message_bytes, "max_message_bytes"));
  if (release.signer != nullptr) {
    task.registry = std::make_unique<ReleaseRegistry>(
        round.task, task.store.get(), release.signer, clock,
        release.manifest_ttl);
  }
  task.engine = std::make_unique<RoundEngine>(
      planned, task.store.get(), task.task_model.get(), clock,
      std::move(observer), task.registry.get());
  return task;
}

}  // namespace cohort::server
