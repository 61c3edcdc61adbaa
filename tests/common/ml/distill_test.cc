// Knowledge distillation through the Model facade.

#include "common/ml/model.h"
#include "gtest/gtest.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using testing::SquaresDataset;

TEST(DistillTest, StudentLearnsFromTeacherWithoutLabels) {
  SetNumThreads(1);
  const data::ImageDataset train = SquaresDataset(30, 1);
  const data::ImageDataset test = SquaresDataset(10, 2);
  auto teacher = Model::Create("small_cnn", 1);
  ASSERT_TRUE(teacher.ok());
  ASSERT_TRUE((*teacher)
                  ->Train(train, {.epochs = 4,
                                  .batch_size = 16,
                                  .learning_rate = 0.05f,
                                  .momentum = 0.9f})
                  .ok());
  // Labels scrambled: only the teacher's logits can teach the student.
  data::ImageDataset proxy = train;
  for (auto& label : proxy.labels) label = 0;

  auto student = Model::Create("tiny_cnn", 2);
  ASSERT_TRUE(student.ok());
  DistillOptions options;
  options.train = {.epochs = 1, .batch_size = 16, .learning_rate = 0.01f,
                   .momentum = 0.9f};
  options.soft_weight = 1.0f;
  auto first = (*student)->Distill(**teacher, proxy, options);
  ASSERT_TRUE(first.ok()) << first.status();
  options.train.epochs = 6;
  auto later = (*student)->Distill(**teacher, proxy, options);
  ASSERT_TRUE(later.ok());
  EXPECT_LT(later->mean_loss, first->mean_loss);
  auto eval = (*student)->Evaluate(test);
  ASSERT_TRUE(eval.ok());
  EXPECT_GT(eval->accuracy, 0.8);
  EXPECT_LT((*student)->NumParameters(), (*teacher)->NumParameters() / 4);
}

TEST(DistillTest, BadOptionsAreInvalidArgument) {
  auto teacher = Model::Create("mlp", 1);
  auto student = Model::Create("tiny_cnn", 1);
  ASSERT_TRUE(teacher.ok() && student.ok());
  const data::ImageDataset data = SquaresDataset(1, 1);
  DistillOptions bad_t;
  bad_t.temperature = 0.0f;
  DistillOptions bad_w;
  bad_w.soft_weight = 1.5f;
  for (const DistillOptions& o : {bad_t, bad_w}) {
    EXPECT_EQ((*student)->Distill(**teacher, data, o).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace cohort::ml
