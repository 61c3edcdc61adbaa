#ifndef COHORT_CLIENT_TRAIN_SOURCE_TRAINER_H_
#define COHORT_CLIENT_TRAIN_SOURCE_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/examples/example_source.h"
#include "client/train/local_trainer.h"
#include "client/train/trainer.h"

namespace cohort::client {

// The agent's Trainer: LibTorch training (LocalTrainer) on whatever an
// ExampleSource holds at the moment a round starts, so examples an
// application added a second ago count in the next round. Each Train and
// Evaluate reads the source once; the examples live only for that call.
// Not thread-safe (as Trainer).
class SourceTrainer final : public Trainer {
 public:
  // `source` is not owned and must outlive the trainer.
  explicit SourceTrainer(ExampleSource* source);

  // Trainer::Train's codes, the source's errors, and FAILED_PRECONDITION
  // when the source holds no examples.
  absl::StatusOr<LocalUpdate> Train(const std::string& architecture,
                                    const cohort::v1::Weights& start,
                                    const cohort::v1::TrainingPlan& plan,
                                    uint64_t seed, absl::Time deadline,
                                    const StopCheck& should_stop) override;
  // As Train.
  absl::StatusOr<LocalEvaluation> Evaluate(
      const std::string& architecture,
      const cohort::v1::Weights& weights) override;
  // ExampleSource::Count and Added.
  int64_t num_examples() const override { return source_->Count(); }
  int64_t examples_added() const override { return source_->Added(); }

 private:
  absl::StatusOr<data::ImageDataset> Examples() const;

  ExampleSource* const source_;
  const std::unique_ptr<LocalTrainer> trainer_;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_SOURCE_TRAINER_H_
