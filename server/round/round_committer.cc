#include "server/round/round_committer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::server {

RoundCommitter::RoundCommitter(const RoundOptions& options, Store* store,
                               TaskModel* task_model, base::Clock* clock,
                               ReleaseRegistry* registry)
    : task_(options.task),
      int8_artifacts_(options.int8_artifacts),
      store_(store),
      task_model_(task_model),
      clock_(clock),
      optimizer_(options.server_learning_rate, options.server_momentum),
      registry_(registry) {}

absl::StatusOr<std::shared_ptr<const PublishedModel>>
RoundCommitter::CommitInitial() {
  COHORT_ASSIGN_OR_RETURN(auto weights, task_model_->InitialWeights());
  COHORT_ASSIGN_OR_RETURN(auto metrics, task_model_->Evaluate(weights));
  COHORT_ASSIGN_OR_RETURN(
      auto model, Publish(1, 0, task_model_->architecture(), std::move(weights),
                          std::move(metrics), int8_artifacts_));
  COHORT_RETURN_IF_ERROR(Persist(*model, /*parent=*/0));
  return Released(std::move(model), /*parent=*/0, "initial model");
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::Commit(
    const RoundResult& result) {
  COHORT_ASSIGN_OR_RETURN(ServerOptimizer::StepResult step,
                          ApplyOptimizer(result));
  COHORT_ASSIGN_OR_RETURN(auto model,
                          BuildVersion(result, std::move(step.weights)));
  COHORT_RETURN_IF_ERROR(Persist(*model, result.parent->version));
  // Momentum advances only once the version is durable: after a failed
  // write the optimizer is as it was, so a retry computes the same step.
  optimizer_.Accept(std::move(step));
  return Released(std::move(model), result.parent->version,
                  absl::StrCat("round ", result.round_id, " committed"));
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::Released(
    std::shared_ptr<const PublishedModel> model, int64_t parent,
    const std::string& reason, ReleaseRecord::Kind kind,
    const std::string& actor) {
  if (registry_ == nullptr) return model;
  COHORT_ASSIGN_OR_RETURN(std::optional<Release> current, registry_->Current());
  if (!current.has_value() || current->record.version != model->version) {
    ReleaseRequest request;
    request.manifest = ManifestContent(*model, parent);
    request.kind = kind;
    request.reason = reason;
    request.actor = actor;
    COHORT_ASSIGN_OR_RETURN(current, registry_->Publish(std::move(request)));
  }
  auto released = std::make_shared<PublishedModel>(*model);
  released->release = current->record.release;
  released->manifest = std::move(current->manifest);
  return released;
}

absl::StatusOr<std::shared_ptr<const PublishedModel>> RoundCommitter::RollBack(
    const PublishedModel& source, int64_t parent, const std::string& reason,
    const std::string& actor) {
  std::map<std::string, double> metrics = source.metrics;
  metrics["rolled_back_from"] = static_cast<double>(source.version);
  COHORT_ASSIGN_OR_RETURN(
      auto model, Publish(parent + 1, /*round_id=*/0, source.architecture,
                          source.weights, std::move(metrics), int8_artifacts_));
  COHORT_RETURN_IF_ERROR(Persist(*model, parent));
  // Momentum belonged to the weights rolled away from.
  optimizer_.Reset();
  return Released(std::move(model), parent,
                  absl::StrCat("rollback to version ", source.version, ": ",
                               reason),
                  ReleaseRecord::Kind::kRollback, actor);
}

absl::StatusOr<ServerOptimizer::StepResult> RoundCommitter::ApplyOptimizer(
    const RoundResult& result) const {
  const cohort::v1::Weights& parent = result.parent->weights;
  COHORT_ASSIGN_OR_RETURN(ServerOptimizer::StepResult step,
                          optimizer_.Step(parent, result.mean_delta));
  // Never publish a model the next round could not train from.
  absl::Status finite = model::ValidateDelta(parent, step.weights);
  if (!finite.ok()) {
    return absl::InternalError(
        absl::StrCat("aggregate is unusable: ", finite.message()));
  }
  return step;
}

absl::StatusOr<std::shared_ptr<const PublishedModel>>
RoundCommitter::BuildVersion(const RoundResult& result,
                             cohort::v1::Weights weights) {
  COHORT_ASSIGN_OR_RETURN(auto metrics, task_model_->Evaluate(weights));
  metrics["train_loss"] = result.mean_loss;
  metrics["participants"] = static_cast<double>(result.participants);
  const PublishedModel& parent = *result.parent;
  return Publish(parent.version + 1, result.round_id, parent.architecture,
                 std::move(weights), std::move(metrics), int8_artifacts_);
}

absl::Status RoundCommitter::Persist(const PublishedModel& model,
                                     int64_t parent) {
  return store_->CommitVersion(MakeRecord(model, parent));
}

ModelVersionRecord RoundCommitter::MakeRecord(const PublishedModel& model,
                                              int64_t parent) const {
  ModelVersionRecord record;
  record.task = task_;
  record.version = model.version;
  record.parent = parent;
  record.round_id = model.round_id;
  record.architecture = model.architecture;
  record.created_at_unix_ms = absl::ToUnixMillis(clock_->Now());
  record.metrics = model.metrics;
  record.weights = model::SerializeWeights(model.weights);
  return record;
}

}  // namespace cohort::server
