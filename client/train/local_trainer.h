#ifndef COHORT_CLIENT_TRAIN_LOCAL_TRAINER_H_
#define COHORT_CLIENT_TRAIN_LOCAL_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/model.pb.h"
#include "common/data/dataset.h"
#include "client/train/trainer.h"
#include "common/ml/model.h"

namespace cohort::client {

// The Trainer on LibTorch (common/ml). The data never leaves this object.
// Not thread-safe.
class LocalTrainer final : public Trainer {
 public:
  // INVALID_ARGUMENT if `data` is empty.
  static absl::StatusOr<std::unique_ptr<LocalTrainer>> Create(
      data::ImageDataset data);

  absl::StatusOr<LocalUpdate> Train(const std::string& architecture,
                                    const cohort::v1::Weights& start,
                                    const cohort::v1::TrainingPlan& plan,
                                    uint64_t seed, absl::Time deadline,
                                    const StopCheck& should_stop) override;

  // As Train, on `data` instead of the trainer's own examples (the simulator
  // keeps one trainer per worker thread and hands it each client's data).
  absl::StatusOr<LocalUpdate> TrainOn(const data::ImageDataset& data,
                                      const std::string& architecture,
                                      const cohort::v1::Weights& start,
                                      const cohort::v1::TrainingPlan& plan,
                                      uint64_t seed,
                                      absl::Time deadline = absl::InfiniteFuture(),
                                      const StopCheck& should_stop = nullptr);

  absl::StatusOr<LocalEvaluation> Evaluate(
      const std::string& architecture,
      const cohort::v1::Weights& weights) override;
  // As Evaluate, on `data` (the simulator's clients).
  absl::StatusOr<LocalEvaluation> EvaluateOn(
      const data::ImageDataset& data, const std::string& architecture,
      const cohort::v1::Weights& weights);
  int64_t num_examples() const override { return data_.num_examples; }

  // A trainer with no data of its own, for TrainOn only.
  static std::unique_ptr<LocalTrainer> CreateWithoutData();

 private:
  explicit LocalTrainer(data::ImageDataset data) : data_(std::move(data)) {}
  // model_ holding `weights` of `architecture` (created on first use).
  absl::Status Load(const std::string& architecture,
                    const cohort::v1::Weights& weights, uint64_t seed);
  data::ImageDataset data_;
  std::unique_ptr<ml::Model> model_;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_LOCAL_TRAINER_H_
