// Quantization-aware training through the Model facade.

#include <cmath>
#include <set>
#include <vector>

#include "common/ml/model.h"
#include "gtest/gtest.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using testing::SquaresDataset;

TrainOptions QatOptions(int epochs) {
  return {.epochs = epochs,
          .batch_size = 16,
          .learning_rate = 0.05f,
          .momentum = 0.9f,
          .seed = 4,
          .qat = true};
}

class QatTest : public ::testing::TestWithParam<std::string> {};

TEST_P(QatTest, QatTrainingReducesTheLoss) {
  SetNumThreads(1);
  auto model = Model::Create(GetParam(), 3);
  ASSERT_TRUE(model.ok());
  const data::ImageDataset train = SquaresDataset(30, 1);
  const data::ImageDataset test = SquaresDataset(10, 2);
  auto before = (*model)->Evaluate(test);
  auto first = (*model)->Train(train, QatOptions(1));
  ASSERT_TRUE(before.ok() && first.ok()) << first.status();
  auto later = (*model)->Train(train, QatOptions(4));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_LT(later->mean_loss, 0.5 * first->mean_loss);
  auto after = (*model)->Evaluate(test);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(after->mean_loss, before->mean_loss);
  EXPECT_GT(after->accuracy, 0.9);
}

// After QAT the forward pass is fake-quantized: the logits live on a uint8
// grid of one scale, so at most 256 distinct values appear.
TEST_P(QatTest, QatForwardPassIsQuantized) {
  SetNumThreads(1);
  auto model = Model::Create(GetParam(), 3);
  ASSERT_TRUE(model.ok());
  const data::ImageDataset train = SquaresDataset(10, 1);
  ASSERT_TRUE((*model)->Train(train, QatOptions(1)).ok());
  auto logits = (*model)->Logits(train, 0, train.num_examples);
  ASSERT_TRUE(logits.ok());
  const std::set<float> distinct(logits->begin(), logits->end());
  EXPECT_LE(distinct.size(), 256u);

  // The same weights without QAT produce free-ranging logits.
  ASSERT_TRUE((*model)->Train(train, {.epochs = 1, .learning_rate = 1e-6f})
                  .ok());
  auto plain = (*model)->Logits(train, 0, train.num_examples);
  ASSERT_TRUE(plain.ok());
  EXPECT_GT(std::set<float>(plain->begin(), plain->end()).size(), 256u);
}

TEST_P(QatTest, QatIsReproducibleFromSeeds) {
  SetNumThreads(1);
  const data::ImageDataset train = SquaresDataset(5, 6);
  auto a = Model::Create(GetParam(), 1);
  auto b = Model::Create(GetParam(), 1);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Train(train, QatOptions(2)).ok());
  ASSERT_TRUE((*b)->Train(train, QatOptions(2)).ok());
  EXPECT_EQ((*a)->GetWeights().SerializeAsString(),
            (*b)->GetWeights().SerializeAsString());
}

INSTANTIATE_TEST_SUITE_P(Zoo, QatTest,
                         ::testing::Values("mlp", "small_cnn"));

}  // namespace
}  // namespace cohort::ml
