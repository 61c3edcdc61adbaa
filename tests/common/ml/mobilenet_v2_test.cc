// The zoo's mobile backbone (issue 14, item 5): MobileNetV2's inverted
// residual blocks sized for 28x28, trained with QAT and run in int8.

#include <string>

#include "absl/status/status.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "gtest/gtest.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using testing::SquaresDataset;

TEST(MobileNetV2Test, IsInvertedResidualBlocksWithBatchNorm) {
  auto model = Model::Create("mobilenet_v2", 1);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->architecture(), "mobilenet_v2");
  // Stem 352, blocks 896 + 5136 + 8832 + 10000 + 14848, head 8704 and the
  // classifier 2570: weights plus batch norm's scale and shift.
  EXPECT_EQ((*model)->NumParameters(), 51338);
  bool depthwise = false, residual_stats = false;
  const cohort::v1::Weights weights = (*model)->GetWeights();
  for (const auto& t : weights.tensors()) {
    depthwise |= t.name() == "b3_dw.weight" && t.shape(1) == 1;
    residual_stats |= t.name() == "b5_project.bn.running_var";
  }
  EXPECT_TRUE(depthwise);
  EXPECT_TRUE(residual_stats);
  // A model built twice from one seed is the same model.
  auto again = Model::Create("mobilenet_v2", 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->GetWeights().SerializeAsString(),
            weights.SerializeAsString());
}

TEST(MobileNetV2Test, TrainsWithQatAndRunsInt8) {
  SetNumThreads(1);
  auto model = Model::Create("mobilenet_v2", 2);
  ASSERT_TRUE(model.ok());
  const data::ImageDataset train = SquaresDataset(30, 21);
  const data::ImageDataset test = SquaresDataset(10, 22);
  TrainOptions options{.epochs = 1, .learning_rate = 0.05f, .momentum = 0.9f};
  auto first = (*model)->Train(train, options);
  options.epochs = 4;
  auto later = (*model)->Train(train, options);
  options.epochs = 1;
  options.qat = true;
  auto qat = (*model)->Train(train, options);
  ASSERT_TRUE(first.ok() && later.ok() && qat.ok());
  EXPECT_LT(later->mean_loss, first->mean_loss);
  auto fp32 = (*model)->Evaluate(test);
  ASSERT_TRUE(fp32.ok());
  EXPECT_GT(fp32->accuracy, 0.8);
  auto int8 = Int8Model::Create(**model, train);
  ASSERT_TRUE(int8.ok()) << int8.status();
  auto int8_eval = (*int8)->Evaluate(test);
  ASSERT_TRUE(int8_eval.ok());
  EXPECT_NEAR(int8_eval->accuracy, fp32->accuracy, 0.05);
  std::printf("mobilenet_v2 on squares: fp32 %.3f, int8 (%s) %.3f\n",
              fp32->accuracy, QEngineName((*int8)->engine()).c_str(),
              int8_eval->accuracy);
}

TEST(MobileNetV2Test, StructuredPruningIsRefusedByLayer) {
  auto model = Model::Create("mobilenet_v2", 3);
  ASSERT_TRUE(model.ok());
  const absl::Status s = (*model)->PruneStructured(0.25);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("layer stem"), std::string::npos) << s;
}

}  // namespace
}  // namespace cohort::ml
