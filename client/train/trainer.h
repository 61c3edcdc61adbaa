#ifndef COHORT_CLIENT_TRAIN_TRAINER_H_
#define COHORT_CLIENT_TRAIN_TRAINER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/model.pb.h"

namespace cohort::client {

struct LocalUpdate {
  cohort::v1::Weights delta;  // trained - start
  int64_t num_examples = 0;
  double train_loss = 0.0;
};

// The device's local task as the agent sees it: fine-tune the assigned model
// on the device's own examples and return the delta against the exact
// weights it started from. The LibTorch LocalTrainer implements it; tests
// use a fake (tests/testing/fake_trainer.h). Not thread-safe.
class Trainer {
 public:
  virtual ~Trainer() = default;

  // Trains per `plan` from `start` (weights of `architecture`), with
  // `seed` fixing shuffles and dropout. DEADLINE_EXCEEDED once `deadline`
  // passes (checked between batches; the partial result is dropped);
  // INVALID_ARGUMENT for an unknown architecture or weights that do not fit
  // it; INTERNAL if training fails.
  virtual absl::StatusOr<LocalUpdate> Train(const std::string& architecture,
                                            const cohort::v1::Weights& start,
                                            const cohort::v1::TrainingPlan& plan,
                                            uint64_t seed,
                                            absl::Time deadline) = 0;

  // Examples the device holds.
  virtual int64_t num_examples() const = 0;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_TRAINER_H_
