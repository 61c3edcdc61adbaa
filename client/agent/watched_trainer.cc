#include "client/agent/watched_trainer.h"

#include "absl/strings/str_cat.h"

namespace cohort::client {

absl::StatusOr<LocalUpdate> WatchedTrainer::Train(
    const std::string& architecture, const cohort::v1::Weights& start,
    const cohort::v1::TrainingPlan& plan, uint64_t seed, absl::Time deadline,
    const StopCheck& should_stop) {
  steps_.Begin("training", deadline + kTrainingGrace);
  auto update =
      inner_->Train(architecture, start, plan, seed, deadline, should_stop);
  steps_.End();
  return update;
}

absl::StatusOr<LocalEvaluation> WatchedTrainer::Evaluate(
    const std::string& architecture, const cohort::v1::Weights& weights) {
  steps_.Begin("evaluation", clock_->Now() + kMaxEvaluation);
  auto evaluation = inner_->Evaluate(architecture, weights);
  steps_.End();
  return evaluation;
}

std::unique_ptr<base::ServiceMonitor> NotifyAgentRunning(
    base::ServiceNotifier& notifier, const AgentOptions& options,
    const WatchedTrainer& trainer) {
  base::NotifyReady(
      notifier, absl::StrCat("device ", options.device_id, ": ",
                             trainer.num_examples(), " examples; coordinator ",
                             options.server_address));
  const std::string device = options.device_id;
  return base::ServiceMonitor::Start(
      &notifier, [&trainer] { return trainer.Check(); },
      [&trainer, device] {
        return absl::StrCat("device ", device, ": ", trainer.Describe());
      });
}

}  // namespace cohort::client
