#ifndef COHORT_CLIENT_TRAIN_TRAINER_H_
#define COHORT_CLIENT_TRAIN_TRAINER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/model.pb.h"

namespace cohort::client {

struct LocalUpdate {
  cohort::v1::Weights delta;  // trained - start
  int64_t num_examples = 0;
  double train_loss = 0.0;
  // The assigned model evaluated on the device's examples before training,
  // when the assignment asked for it (field monitoring).
  std::optional<cohort::v1::FieldEvaluation> field_evaluation;
};

// A model's accuracy on the device's own examples.
struct LocalEvaluation {
  int64_t num_examples = 0;
  double loss = 0.0;      // mean cross-entropy
  double accuracy = 0.0;  // in [0, 1]
  // Inputs and predictions (client/train/field_summary.h); nullopt when the
  // examples cannot be summarised.
  std::optional<cohort::v1::FieldSummary> summary;
};

// Asked between batches, alongside the deadline: true stops training (the
// agent's eligibility watch and stop request). Empty: never.
using StopCheck = std::function<bool()>;

// The device's local task as the agent sees it: fine-tune the assigned model
// on the device's own examples and return the delta against the exact
// weights it started from. The LibTorch LocalTrainer implements it; tests
// use a fake (tests/testing/fake_trainer.h). Not thread-safe.
class Trainer {
 public:
  virtual ~Trainer() = default;

  // Trains per `plan` from `start` (weights of `architecture`), with
  // `seed` fixing shuffles and dropout. DEADLINE_EXCEEDED once `deadline`
  // passes, CANCELLED once `should_stop` returns true (both checked
  // between batches; the partial result is dropped); INVALID_ARGUMENT for
  // an unknown architecture or weights that do not fit it; INTERNAL if
  // training fails.
  virtual absl::StatusOr<LocalUpdate> Train(const std::string& architecture,
                                            const cohort::v1::Weights& start,
                                            const cohort::v1::TrainingPlan& plan,
                                            uint64_t seed, absl::Time deadline,
                                            const StopCheck& should_stop) = 0;

  // Evaluates `weights` of `architecture` on the device's examples; no
  // training. INVALID_ARGUMENT as for Train; INTERNAL if evaluation fails.
  virtual absl::StatusOr<LocalEvaluation> Evaluate(
      const std::string& architecture, const cohort::v1::Weights& weights) = 0;
  // Examples the device holds.
  virtual int64_t num_examples() const = 0;
  // Examples ever added to the device, never lowered by retention (the
  // eligibility.min_new_examples rule counts from it). A fixed data set:
  // num_examples().
  virtual int64_t examples_added() const { return num_examples(); }
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_TRAINER_H_
