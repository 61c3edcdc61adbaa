#ifndef COHORT_TESTS_TESTING_FAKE_TRAINER_H_
#define COHORT_TESTS_TESTING_FAKE_TRAINER_H_

#include <functional>
#include <string>
#include <vector>

#include "client/train/trainer.h"
#include "common/model/weights_util.h"

namespace cohort::testing {

// A Trainer without LibTorch: the delta is `step` added to every start value,
// the loss is fixed, and each call is recorded. It "trains" `batches`
// batches; before each it runs `between_batches` (with the batch's index),
// then, as LocalTrainer does between batches, reports DEADLINE_EXCEEDED for
// a deadline already past and CANCELLED when `should_stop` says so.
class FakeTrainer final : public client::Trainer {
 public:
  absl::StatusOr<client::LocalUpdate> Train(
      const std::string& architecture, const cohort::v1::Weights& start,
      const cohort::v1::TrainingPlan& plan, uint64_t seed, absl::Time deadline,
      const client::StopCheck& should_stop) override {
    calls.push_back({architecture, seed, deadline, start});
    for (int b = 0; b < batches; ++b) {
      if (between_batches) between_batches(b);
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError("fake: deadline passed");
      }
      if (should_stop && should_stop()) {
        ++stopped;
        return absl::CancelledError("fake: asked to stop");
      }
    }
    client::LocalUpdate update;
    update.delta = start;
    for (auto& t : *update.delta.mutable_tensors()) {
      const size_t n = model::FloatView(t).size();
      model::SetFloatData(std::vector<float>(n, step), &t);
    }
    update.num_examples = examples;
    update.train_loss = 0.5;
    return update;
  }
  absl::StatusOr<client::LocalEvaluation> Evaluate(
      const std::string& architecture,
      const cohort::v1::Weights& weights) override {
    evaluations.push_back(architecture);
    evaluated.push_back(weights);
    if (!evaluation.ok()) return evaluation.status();
    return *evaluation;
  }
  int64_t num_examples() const override { return examples; }

  struct Call {
    std::string architecture;
    uint64_t seed;
    absl::Time deadline;
    cohort::v1::Weights start;
  };
  std::vector<Call> calls;
  // What Evaluate returns, and the architectures it was asked about.
  absl::StatusOr<client::LocalEvaluation> evaluation =
      client::LocalEvaluation{20, 0.4, 0.75, std::nullopt};
  std::vector<std::string> evaluations;
  std::vector<cohort::v1::Weights> evaluated;
  float step = 0.25f;
  int64_t examples = 20;
  int batches = 1;
  std::function<void(int)> between_batches;
  // Train calls that should_stop ended.
  int stopped = 0;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FAKE_TRAINER_H_
