// The wider TorchScript import (issue 14, item 4): batch norm, depthwise
// convolutions, ReLU6, hardswish, average pooling and identity residuals,
// from modules PyTorch itself exported.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/ml/logits.h"
#include "tests/common/ml/pytorch_modules.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::MaxDifference;
using testing::PyTorchModulesDir;
using testing::SquaresDataset;

std::vector<std::string> Names(const Model& model) {
  std::vector<std::string> names;
  const cohort::v1::Weights weights = model.GetWeights();
  for (const auto& t : weights.tensors()) names.push_back(t.name());
  return names;
}

std::vector<float> Values(const Model& model, const std::string& name) {
  const cohort::v1::Weights weights = model.GetWeights();
  for (const auto& t : weights.tensors()) {
    if (t.name() != name) continue;
    std::vector<float> v(t.data().size() / sizeof(float));
    std::copy_n(t.data().data(), t.data().size(),
                reinterpret_cast<char*>(v.data()));
    return v;
  }
  return {};
}

TEST(WiderImportTest, MobileNetStyleModuleGivesPyTorchsLogits) {
  const auto dir = PyTorchModulesDir();
  if (!dir) GTEST_SKIP() << "python3-torch is not installed";
  auto model = Model::ImportTorchScript(*dir + "/mobilenet_style.pt");
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string arch = (*model)->architecture();
  // Stem: stride 2, batch norm, ReLU6.
  EXPECT_THAT(arch, HasSubstr("conv2d/stem_0/1/8/k3/s2/p1/b0/r2/m0x0/n1;"));
  // First block: depthwise, and the projection adds the block's input back.
  EXPECT_THAT(arch, HasSubstr("conv2d/blocks_0_conv_3/16/16/k3/s1/p1/b0/r2/"
                              "m0x0/g16/n1;"));
  EXPECT_THAT(arch, HasSubstr("conv2d/blocks_0_conv_6/16/8/k1/s1/p0/b0/r0/"
                              "m0x0/n1/+1;"));
  // Hardswish, 'same' padding and global average pooling in the head.
  EXPECT_THAT(arch, HasSubstr("conv2d/head_0/16/32/k3/s1/p1/b1/r3/vg/n1/d0.2;"));
  EXPECT_THAT(arch, HasSubstr("linear/classifier_1/32/10/f1/b1/r0"));
  // PyTorch counts 7,698 parameters; the 416 running statistics travel
  // with them as the layers' batch-norm state: 11 convs with weight, batch
  // norm weight, bias and two statistics, the head's bias, the classifier.
  EXPECT_EQ((*model)->NumParameters(), 7698);
  EXPECT_EQ((*model)->GetWeights().tensors_size(), 11 * 5 + 1 + 2);
  EXPECT_THAT(Names(**model), Contains("blocks_1_conv_3.bn.running_var"));

  const testing::Probe probe = testing::ReadProbe(*dir + "/mobilenet_style_probe.txt");
  ASSERT_EQ(probe.images.num_examples, 8);
  auto ours = (*model)->Logits(probe.images, 0, probe.images.num_examples);
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_LT(MaxDifference(*ours, probe.logits), 1e-4f);
}

// Plain training normalises with the batch and moves the running
// statistics; QAT folds batch norm into the conv; int8 then runs the folded,
// quantized weights and agrees with the fp32 model.
TEST(WiderImportTest, MobileNetStyleModuleTrainsWithQatAndRunsInt8) {
  const auto dir = PyTorchModulesDir();
  if (!dir) GTEST_SKIP() << "python3-torch is not installed";
  SetNumThreads(1);
  auto model = Model::ImportTorchScript(*dir + "/mobilenet_style.pt");
  ASSERT_TRUE(model.ok()) << model.status();
  const data::ImageDataset train = SquaresDataset(30, 11);
  const data::ImageDataset test = SquaresDataset(10, 12);
  const std::vector<float> stats_before =
      Values(**model, "stem_0.bn.running_mean");
  auto first = (*model)->Train(train, {.epochs = 1, .learning_rate = 0.05f,
                                       .momentum = 0.9f});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE(Values(**model, "stem_0.bn.running_mean"), stats_before)
      << "training must move the running statistics";
  auto later = (*model)->Train(train, {.epochs = 6, .learning_rate = 0.05f,
                                       .momentum = 0.9f});
  auto qat = (*model)->Train(train, {.epochs = 2, .learning_rate = 0.01f,
                                     .momentum = 0.9f, .qat = true});
  ASSERT_TRUE(later.ok() && qat.ok()) << qat.status();
  EXPECT_LT(later->mean_loss, first->mean_loss);
  auto fp32 = (*model)->Evaluate(test);
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  // The squares' class is their position, which global average pooling
  // discards but for the padding's edge effects: the bar is well above
  // chance (0.1), not a solved task.
  EXPECT_GT(fp32->accuracy, 0.3);

  auto int8 = Int8Model::Create(**model, train);
  ASSERT_TRUE(int8.ok()) << int8.status();
  auto int8_eval = (*int8)->Evaluate(test);
  ASSERT_TRUE(int8_eval.ok()) << int8_eval.status();
  EXPECT_NEAR(int8_eval->accuracy, fp32->accuracy, 0.05);
  std::cout << "mobilenet_style on squares: fp32 " << fp32->accuracy
            << ", int8 (" << QEngineName((*int8)->engine()) << ") "
            << int8_eval->accuracy << "\n";
}

TEST(WiderImportTest, AveragePoolingAfterBatchNormGivesPyTorchsOutput) {
  const auto dir = PyTorchModulesDir();
  if (!dir) GTEST_SKIP() << "python3-torch is not installed";
  // Import succeeds only if the chain reproduces the module's own output.
  auto model = Model::ImportTorchScript(*dir + "/avg_pool.pt");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->architecture(),
            "chain:conv2d/conv/1/4/k3/s1/p1/b1/r1/v2x2/n1;"
            "linear/fc/784/10/f1/b1/r0");
}

struct Refusal {
  const char* module;
  const char* reason;
};

class WiderImportRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(WiderImportRefusalTest, IsRefusedWithItsReason) {
  const auto dir = PyTorchModulesDir();
  if (!dir) GTEST_SKIP() << "python3-torch is not installed";
  auto model =
      Model::ImportTorchScript(absl::StrCat(*dir, "/", GetParam().module, ".pt"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr(GetParam().reason));
}

INSTANTIATE_TEST_SUITE_P(
    Modules, WiderImportRefusalTest,
    ::testing::Values(
        Refusal{"conv_shortcut", "a shortcut must be the identity"},
        Refusal{"slow_batch_norm",
                "layer bn (BatchNorm2d): op aten::batch_norm needs PyTorch's "
                "default momentum"},
        Refusal{"traced_batch_norm", "training=self.training"},
        Refusal{"adaptive_pool_to_2",
                "layer pool (AdaptiveAvgPool2d): op aten::adaptive_avg_pool2d "
                "is supported only to output size 1"},
        Refusal{"residual", "a shortcut must be the identity"}));

}  // namespace
}  // namespace cohort::ml
