// Magnitude pruning through the Model facade.

#include <vector>

#include "common/ml/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using testing::SquaresDataset;
using ::testing::ElementsAre;

const TrainOptions kTrain{
    .epochs = 4, .batch_size = 16, .learning_rate = 0.05f, .momentum = 0.9f};

std::vector<int64_t> Shape(const cohort::v1::Weights& w, int i) {
  return {w.tensors(i).shape().begin(), w.tensors(i).shape().end()};
}

TEST(PruneTest, StructuredPruningShrinksTensorsAndNextLayerInputs) {
  SetNumThreads(1);
  auto model = Model::Create("small_cnn", 2);
  ASSERT_TRUE(model.ok());
  const data::ImageDataset train = SquaresDataset(30, 1);
  const data::ImageDataset test = SquaresDataset(10, 2);
  ASSERT_TRUE((*model)->Train(train, kTrain).ok());
  const int64_t before = (*model)->NumParameters();

  ASSERT_TRUE((*model)->PruneStructured(0.5).ok());
  const cohort::v1::Weights w = (*model)->GetWeights();
  EXPECT_THAT(Shape(w, 0), ElementsAre(8, 1, 5, 5));    // conv1
  EXPECT_THAT(Shape(w, 1), ElementsAre(8));             // conv1.bias
  EXPECT_THAT(Shape(w, 2), ElementsAre(16, 8, 5, 5));   // conv2
  EXPECT_THAT(Shape(w, 4), ElementsAre(32, 16 * 16));   // fc1 (4x4 per chan)
  EXPECT_THAT(Shape(w, 6), ElementsAre(10, 32));        // fc2 keeps classes
  EXPECT_THAT(Shape(w, 7), ElementsAre(10));
  EXPECT_LT((*model)->NumParameters(), before / 3);

  ASSERT_TRUE((*model)->Train(train, kTrain).ok());
  auto after = (*model)->Evaluate(test);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT(after->accuracy, 0.9);
}

// Pruning keeps the strongest channels: a model whose conv1 channels are
// scaled so the even ones dominate keeps exactly the even ones.
TEST(PruneTest, StructuredPruningKeepsTheLargestChannels) {
  auto model = Model::Create("small_cnn", 3);
  ASSERT_TRUE(model.ok());
  cohort::v1::Weights w = (*model)->GetWeights();
  std::vector<float> conv1(400);
  for (int c = 0; c < 16; ++c) {
    for (int i = 0; i < 25; ++i) conv1[c * 25 + i] = (c % 2 == 0) ? 1.0f : 0.1f;
  }
  w.mutable_tensors(0)->set_data(conv1.data(), conv1.size() * sizeof(float));
  ASSERT_TRUE((*model)->SetWeights(w).ok());
  ASSERT_TRUE((*model)->PruneStructured(0.5).ok());
  const cohort::v1::Weights pruned = (*model)->GetWeights();
  ASSERT_EQ(pruned.tensors(0).data().size(), 8 * 25 * sizeof(float));
  const float* values =
      reinterpret_cast<const float*>(pruned.tensors(0).data().data());
  for (int i = 0; i < 8 * 25; ++i) EXPECT_EQ(values[i], 1.0f);
}

TEST(PruneTest, UnstructuredPruningStaysSparseThroughFineTuning) {
  SetNumThreads(1);
  auto model = Model::Create("small_cnn", 4);
  ASSERT_TRUE(model.ok());
  const data::ImageDataset train = SquaresDataset(30, 3);
  const data::ImageDataset test = SquaresDataset(10, 4);
  ASSERT_TRUE((*model)->Train(train, kTrain).ok());
  EXPECT_LT((*model)->WeightSparsity(), 0.01);
  ASSERT_TRUE((*model)->PruneUnstructured(0.7).ok());
  EXPECT_NEAR((*model)->WeightSparsity(), 0.7, 0.01);
  ASSERT_TRUE((*model)->Train(train, kTrain).ok());
  EXPECT_GE((*model)->WeightSparsity(), 0.69);
  auto after = (*model)->Evaluate(test);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->accuracy, 0.9);
}

TEST(PruneTest, BadFractionsAreInvalidArgument) {
  auto model = Model::Create("mlp", 1);
  ASSERT_TRUE(model.ok());
  for (double f : {-0.1, 1.0, 2.0}) {
    EXPECT_EQ((*model)->PruneStructured(f).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ((*model)->PruneUnstructured(f).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace cohort::ml
