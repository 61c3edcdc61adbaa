#ifndef COHORT_CLIENT_TRAIN_LOCAL_TRAINER_H_
#define COHORT_CLIENT_TRAIN_LOCAL_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cohort/v1/config.pb.h"
#include "cohort/v1/model.pb.h"
#include "common/data/dataset.h"
#include "common/ml/model.h"

namespace cohort::client {

struct LocalUpdate {
  cohort::v1::Weights delta;  // trained - start
  int64_t num_examples = 0;
  double train_loss = 0.0;
};

// The device's local task: fine-tune the assigned model on the device's own
// examples and return the delta against the exact weights it started from.
// The data never leaves this object. Not thread-safe.
class LocalTrainer {
 public:
  // INVALID_ARGUMENT if `data` is empty.
  static absl::StatusOr<std::unique_ptr<LocalTrainer>> Create(
      data::ImageDataset data);

  // INVALID_ARGUMENT for an unknown architecture or weights that do not fit
  // it; INTERNAL if training fails.
  absl::StatusOr<LocalUpdate> Train(const std::string& architecture,
                                    const cohort::v1::Weights& start,
                                    const cohort::v1::TrainingPlan& plan,
                                    uint64_t seed);

  // As Train, on `data` instead of the trainer's own examples (the simulator
  // keeps one trainer per worker thread and hands it each client's data).
  absl::StatusOr<LocalUpdate> TrainOn(const data::ImageDataset& data,
                                      const std::string& architecture,
                                      const cohort::v1::Weights& start,
                                      const cohort::v1::TrainingPlan& plan,
                                      uint64_t seed);

  int64_t num_examples() const { return data_.num_examples; }

  // A trainer with no data of its own, for TrainOn only.
  static std::unique_ptr<LocalTrainer> CreateWithoutData();

 private:
  explicit LocalTrainer(data::ImageDataset data) : data_(std::move(data)) {}
  data::ImageDataset data_;
  std::unique_ptr<ml::Model> model_;
};

}  // namespace cohort::client

#endif  // COHORT_CLIENT_TRAIN_LOCAL_TRAINER_H_
