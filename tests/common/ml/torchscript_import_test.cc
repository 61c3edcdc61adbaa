// Bring-your-own-model: TorchScript import and refusal of modules that do
// not fit. The modules are written by common/ml/testing (LibTorch's own
// TorchScript compiler); tests/testdata/torchscript/make_modules.py writes
// the same ones from PyTorch and is exercised when python3-torch exists.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/ml/int8_model.h"
#include "common/ml/model.h"
#include "common/ml/testing/torchscript_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/ml/pytorch_modules.h"
#include "tests/common/ml/temp_path.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Fixture;
using testing::SquaresDataset;

using testing::TempPath;

std::string Fixtured(Fixture fixture, const std::string& name) {
  const std::string path = TempPath(name);
  const absl::Status s = testing::WriteTorchScriptFixture(fixture, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return path;
}

std::vector<std::string> Names(const Model& model) {
  std::vector<std::string> names;
  const cohort::v1::Weights weights = model.GetWeights();
  for (const auto& t : weights.tensors()) names.push_back(t.name());
  return names;
}

TEST(TorchScriptImportTest, ChainModuleTrainsQuantizesAndConverts) {
  SetNumThreads(1);
  auto model = Model::ImportTorchScript(Fixtured(Fixture::kChainCnn, "c.pt"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  // The chain is the architecture name devices rebuild the model from.
  EXPECT_EQ((*model)->architecture(),
            "chain:conv2d/features_conv/1/4/k3/s1/p1/b1/r1/m2x2;"
            "linear/classifier_fc1/784/16/f1/b1/r1/d0.1;"
            "linear/classifier_fc2/16/10/f0/b1/r0");
  EXPECT_EQ((*model)->NumParameters(), (4 * 9 + 4) + (16 * 784 + 16) + 170);
  EXPECT_THAT(Names(**model),
              ElementsAre("features_conv.weight", "features_conv.bias",
                          "classifier_fc1.weight", "classifier_fc1.bias",
                          "classifier_fc2.weight", "classifier_fc2.bias"));

  const data::ImageDataset train = SquaresDataset(30, 1);
  const data::ImageDataset test = SquaresDataset(10, 2);
  TrainOptions options{.epochs = 4,
                       .batch_size = 16,
                       .learning_rate = 0.05f,
                       .momentum = 0.9f,
                       .qat = true};
  auto first = (*model)->Train(train, {.epochs = 1, .qat = true});
  auto later = (*model)->Train(train, options);
  ASSERT_TRUE(first.ok() && later.ok()) << later.status();
  EXPECT_LT(later->mean_loss, first->mean_loss);
  auto eval = (*model)->Evaluate(test);
  ASSERT_TRUE(eval.ok());
  EXPECT_GT(eval->accuracy, 0.9);

  auto int8 = Int8Model::Create(**model, train);
  ASSERT_TRUE(int8.ok()) << int8.status();
  auto int8_eval = (*int8)->Evaluate(test);
  ASSERT_TRUE(int8_eval.ok());
  EXPECT_NEAR(int8_eval->accuracy, eval->accuracy, 0.03);

  // Weights leave as model.proto and load into a fresh import.
  auto fresh = Model::ImportTorchScript(Fixtured(Fixture::kChainCnn, "d.pt"));
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE((*fresh)->SetWeights((*model)->GetWeights()).ok());
  EXPECT_EQ((*fresh)->GetWeights().SerializeAsString(),
            (*model)->GetWeights().SerializeAsString());
}

struct Refusal {
  Fixture fixture;
  const char* reason;
};

class TorchScriptRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(TorchScriptRefusalTest, UnsupportedModuleIsRefusedWithItsReason) {
  auto model = Model::ImportTorchScript(Fixtured(GetParam().fixture, "r.pt"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr(GetParam().reason));
}

INSTANTIATE_TEST_SUITE_P(
    Modules, TorchScriptRefusalTest,
    ::testing::Values(
        Refusal{Fixture::kNoParameters, "no trainable parameters"},
        Refusal{Fixture::kWrongInput,
                "does not accept input [N, 1, 28, 28]"},
        Refusal{Fixture::kUnsupportedOp, "aten::sigmoid"},
        Refusal{Fixture::kResidual, "layer b (BranchB): op aten::linear starts a second branch"},
        // Refusals caused by one layer name it by module path and class.
        Refusal{Fixture::kBatchNorm, "layer features.3 (BatchNorm2d): "},
        Refusal{Fixture::kSamePaddingEvenKernel,
                "layer features.0 (Conv2d): padding='same' with the even "
                "kernel 4"},
        Refusal{Fixture::kDropoutBeforePool,
                "layer features.2 (MaxPool2d): op aten::max_pool2d follows "
                "a dropout"},
        Refusal{Fixture::kFrozenLayer,
                "layer fc (Linear): parameter fc.weight has "
                "requires_grad=False"}));

// Field report: BatchNorm2d was refused as "op aten::dim is not supported",
// naming neither the layer nor its type.
TEST(TorchScriptImportTest, BatchNormIsRefusedByLayerPathAndType) {
  auto model = Model::ImportTorchScript(Fixtured(Fixture::kBatchNorm, "bn.pt"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(model.status().message());
  EXPECT_THAT(message, HasSubstr("features.3"));
  EXPECT_THAT(message, HasSubstr("BatchNorm2d"));
}

// Field report: padding='same' was read as padding 0, and the import then
// failed on a raw LibTorch shape error.
TEST(TorchScriptImportTest, SamePaddingWithOddKernelBecomesSymmetricPadding) {
  auto model =
      Model::ImportTorchScript(Fixtured(Fixture::kSamePadding, "same.pt"));
  // Import succeeds only if the chain reproduces the module's own output.
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->architecture(),
            "chain:conv2d/features_0/1/4/k3/s1/p1/b1/r0/m0x0;"
            "linear/fc/3136/10/f1/b1/r0");
}

std::string Serialized(const Model& model) {
  return model.GetWeights().SerializeAsString();
}

// Field report: Dropout was accepted and then silently left out of
// training. It is carried as the layer's dropout probability, acts in
// training only, and draws its masks from the training seed.
TEST(TorchScriptImportTest, DropoutIsCarriedAndActsInTrainingOnly) {
  SetNumThreads(1);
  auto model = Model::ImportTorchScript(Fixtured(Fixture::kChainCnn, "p.pt"));
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string arch = (*model)->architecture();
  EXPECT_THAT(arch, HasSubstr("linear/classifier_fc1/784/16/f1/b1/r1/d0.1;"));
  // The same chain and weights without the dropout.
  auto plain = Model::Create(absl::StrReplaceAll(arch, {{"/d0.1", ""}}), 1);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE((*plain)->SetWeights((*model)->GetWeights()).ok());

  const data::ImageDataset data = SquaresDataset(5, 3);
  auto with = (*model)->Logits(data, 0, data.num_examples);
  auto without = (*plain)->Logits(data, 0, data.num_examples);
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_EQ(*with, *without) << "dropout must not act at inference";

  const TrainOptions options{.epochs = 1, .batch_size = 10, .seed = 5};
  ASSERT_TRUE((*model)->Train(data, options).ok());
  ASSERT_TRUE((*plain)->Train(data, options).ok());
  EXPECT_NE(Serialized(**model), Serialized(**plain))
      << "dropout must act in training";

  // Seeded like the shuffle: the same import and seed train identically.
  auto again = Model::ImportTorchScript(Fixtured(Fixture::kChainCnn, "q.pt"));
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->Train(data, options).ok());
  EXPECT_EQ(Serialized(**again), Serialized(**model));
}

TEST(TorchScriptImportTest, MissingAndGarbageFilesAreRefused) {
  auto missing = Model::ImportTorchScript(TempPath("does-not-exist.pt"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  const std::string garbage = TempPath("garbage.pt");
  std::ofstream(garbage) << "not a zip archive";
  auto bad = Model::ImportTorchScript(garbage);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("not a loadable TorchScript module"));
}

// The same module exported by PyTorch itself, when it is installed.
TEST(TorchScriptImportTest, PyTorchExportImports) {
  const auto modules = testing::PyTorchModulesDir();
  if (!modules) GTEST_SKIP() << "python3-torch is not installed";
  const std::string& dir = *modules;
  auto model = Model::ImportTorchScript(dir + "/chain_cnn.pt");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->NumParameters(), (4 * 9 + 4) + (16 * 784 + 16) + 170);
  auto traced = Model::ImportTorchScript(dir + "/chain_cnn_traced.pt");
  EXPECT_TRUE(traced.ok()) << traced.status().ToString();
  for (const char* name : {"no_parameters", "wrong_input", "residual"}) {
    EXPECT_FALSE(Model::ImportTorchScript(absl::StrCat(dir, "/", name, ".pt"))
                     .ok())
        << name;
  }
  auto refused = Model::ImportTorchScript(dir + "/unsupported_op.pt");
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("aten::sigmoid"));
}

}  // namespace
}  // namespace cohort::ml
