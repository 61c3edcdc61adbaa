// The agent's trainer reads its examples from its source at every round.

#include "client/train/source_trainer.h"

#include <vector>

#include "common/ml/model.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

// A source whose examples a test sets; counts its reads.
class FakeSource final : public ExampleSource {
 public:
  absl::StatusOr<data::ImageDataset> Examples() override {
    ++reads;
    if (!error.ok()) return error;
    return data;
  }
  int64_t Count() override { return data.num_examples; }
  int64_t Added() override { return added; }

  data::ImageDataset data;
  int64_t added = 0;
  absl::Status error;
  int reads = 0;
};

data::ImageDataset Images(int n) {
  data::ImageDataset d;
  d.num_examples = n;
  d.height = 28;
  d.width = 28;
  d.images.resize(static_cast<size_t>(n) * 28 * 28);
  for (size_t i = 0; i < d.images.size(); ++i) d.images[i] = (i * 31) % 256;
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 10);
  return d;
}

cohort::v1::Weights Start() {
  auto model = ml::Model::Create("mlp", 1);
  EXPECT_TRUE(model.ok()) << model.status();
  return (*model)->GetWeights();
}

TEST(SourceTrainerTest, EachRoundTrainsOnWhatTheSourceHoldsThen) {
  FakeSource source;
  source.data = Images(20);
  source.added = 35;
  SourceTrainer trainer(&source);
  EXPECT_EQ(trainer.num_examples(), 20);
  EXPECT_EQ(trainer.examples_added(), 35);
  cohort::v1::TrainingPlan plan;
  plan.set_batch_size(8);
  const cohort::v1::Weights start = Start();
  auto first = trainer.Train("mlp", start, plan, 1, absl::InfiniteFuture(),
                             nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->num_examples, 20);
  // An application added examples between rounds.
  source.data = Images(30);
  auto second = trainer.Train("mlp", start, plan, 1, absl::InfiniteFuture(),
                              nullptr);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->num_examples, 30);
  auto evaluated = trainer.Evaluate("mlp", start);
  ASSERT_TRUE(evaluated.ok()) << evaluated.status();
  EXPECT_EQ(evaluated->num_examples, 30);
  EXPECT_EQ(source.reads, 3);
}

TEST(SourceTrainerTest, NothingToTrainOnIsFailedPrecondition) {
  FakeSource source;
  SourceTrainer trainer(&source);
  cohort::v1::TrainingPlan plan;
  EXPECT_EQ(trainer.Train("mlp", Start(), plan, 1, absl::InfiniteFuture(),
                          nullptr)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  source.error = absl::DataLossError("example store x: damaged");
  EXPECT_EQ(trainer.Evaluate("mlp", Start()).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cohort::client
