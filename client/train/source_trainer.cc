#include "client/train/source_trainer.h"

#include "common/base/status_macros.h"

namespace cohort::client {

SourceTrainer::SourceTrainer(ExampleSource* source)
    : source_(source), trainer_(LocalTrainer::CreateWithoutData()) {}

absl::StatusOr<data::ImageDataset> SourceTrainer::Examples() const {
  COHORT_ASSIGN_OR_RETURN(data::ImageDataset data, source_->Examples());
  if (data.num_examples < 1) {
    return absl::FailedPreconditionError(
        "the device holds no examples to train on");
  }
  return data;
}

absl::StatusOr<LocalUpdate> SourceTrainer::Train(
    const std::string& architecture, const cohort::v1::Weights& start,
    const cohort::v1::TrainingPlan& plan, uint64_t seed, absl::Time deadline,
    const StopCheck& should_stop) {
  COHORT_ASSIGN_OR_RETURN(const data::ImageDataset data, Examples());
  return trainer_->TrainOn(data, architecture, start, plan, seed, deadline,
                           should_stop);
}

absl::StatusOr<LocalEvaluation> SourceTrainer::Evaluate(
    const std::string& architecture, const cohort::v1::Weights& weights) {
  COHORT_ASSIGN_OR_RETURN(const data::ImageDataset data, Examples());
  return trainer_->EvaluateOn(data, architecture, weights);
}

}  // namespace cohort::client
