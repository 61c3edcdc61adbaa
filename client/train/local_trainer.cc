#include "client/train/local_trainer.h"

#include "client/train/field_summary.h"
#include "common/base/status_macros.h"
#include "common/model/weights_util.h"

namespace cohort::client {

absl::StatusOr<std::unique_ptr<LocalTrainer>> LocalTrainer::Create(
    data::ImageDataset data) {
  if (data.num_examples == 0) {
    return absl::InvalidArgumentError("the device holds no examples");
  }
  return std::unique_ptr<LocalTrainer>(new LocalTrainer(std::move(data)));
}

std::unique_ptr<LocalTrainer> LocalTrainer::CreateWithoutData() {
  return std::unique_ptr<LocalTrainer>(new LocalTrainer(data::ImageDataset()));
}

absl::StatusOr<LocalUpdate> LocalTrainer::Train(
    const std::string& architecture, const cohort::v1::Weights& start,
    const cohort::v1::TrainingPlan& plan, uint64_t seed, absl::Time deadline,
    const StopCheck& should_stop) {
  return TrainOn(data_, architecture, start, plan, seed, deadline,
                 should_stop);
}

absl::StatusOr<LocalUpdate> LocalTrainer::TrainOn(
    const data::ImageDataset& data, const std::string& architecture,
    const cohort::v1::Weights& start, const cohort::v1::TrainingPlan& plan,
    uint64_t seed, absl::Time deadline, const StopCheck& should_stop) {
  COHORT_RETURN_IF_ERROR(Load(architecture, start, seed));
  ml::TrainOptions options;
  options.epochs = plan.epochs() > 0 ? plan.epochs() : 1;
  options.batch_size = plan.batch_size() > 0 ? plan.batch_size() : 32;
  options.learning_rate = plan.learning_rate() > 0 ? plan.learning_rate() : 0.05f;
  options.momentum = plan.momentum();
  options.seed = seed;
  options.qat = plan.qat() == cohort::v1::TrainingPlan::QAT_ON;
  options.proximal_mu = plan.proximal_mu();
  if (deadline != absl::InfiniteFuture() || should_stop) {
    options.should_stop = [deadline, should_stop] {
      return absl::Now() >= deadline || (should_stop && should_stop());
    };
  }
  COHORT_ASSIGN_OR_RETURN(ml::TrainResult result, model_->Train(data, options));
  if (result.stopped && absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        "the report deadline passed during local training");
  }
  if (result.stopped) {
    return absl::CancelledError("local training was asked to stop");
  }
  LocalUpdate update;
  // The delta is taken against `start` itself, not a re-read of the model, so
  // it matches the server's copy of the weights bit for bit.
  COHORT_ASSIGN_OR_RETURN(update.delta,
                          model::Subtract(model_->GetWeights(), start));
  update.num_examples = result.num_examples;
  update.train_loss = result.mean_loss;
  return update;
}

absl::Status LocalTrainer::Load(const std::string& architecture,
                                const cohort::v1::Weights& weights,
                                uint64_t seed) {
  if (model_ == nullptr || model_->architecture() != architecture) {
    COHORT_ASSIGN_OR_RETURN(model_, ml::Model::Create(architecture, seed));
  }
  return model_->SetWeights(weights);
}

absl::StatusOr<LocalEvaluation> LocalTrainer::Evaluate(
    const std::string& architecture, const cohort::v1::Weights& weights) {
  return EvaluateOn(data_, architecture, weights);
}

absl::StatusOr<LocalEvaluation> LocalTrainer::EvaluateOn(
    const data::ImageDataset& data, const std::string& architecture,
    const cohort::v1::Weights& weights) {
  // The seed only initialises weights that SetWeights then replaces.
  COHORT_RETURN_IF_ERROR(Load(architecture, weights, /*seed=*/1));
  COHORT_ASSIGN_OR_RETURN(ml::EvalResult r, model_->Evaluate(data));
  return LocalEvaluation{r.num_examples, r.mean_loss, r.accuracy,
                         SummarizeField(data, r)};
}

}  // namespace cohort::client
