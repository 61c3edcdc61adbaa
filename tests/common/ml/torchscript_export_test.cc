// Model::ExportTorchScript: the module an application loads gives Cohort's
// own logits.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ml/model.h"
#include "common/ml/testing/torchscript_fixtures.h"
#include "common/ml/testing/torchscript_runner.h"
#include "gtest/gtest.h"
#include "tests/common/ml/logits.h"
#include "tests/common/ml/pytorch_modules.h"
#include "tests/common/ml/temp_path.h"
#include "tests/common/ml/squares_dataset.h"

namespace cohort::ml {
namespace {

using testing::MaxDifference;
using testing::TempPath;

void ExpectSameLogits(Model& model, const std::string& name) {
  const data::ImageDataset data = testing::SquaresDataset(3, 7);
  const std::string path = TempPath(name + ".pt");
  ASSERT_TRUE(model.ExportTorchScript(path).ok());
  auto ours = model.Logits(data, 0, data.num_examples);
  ASSERT_TRUE(ours.ok()) << ours.status();
  auto theirs = testing::RunTorchScript(path, data, 0, data.num_examples);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_EQ(theirs->size(), static_cast<size_t>(data.num_examples) * 10);
  EXPECT_LT(MaxDifference(*ours, *theirs), 1e-5f) << name;
}

TEST(TorchScriptExportTest, ZooModelsGiveTheirOwnLogits) {
  for (const std::string arch : ZooArchitectures()) {
    auto model = Model::Create(arch, 3);
    ASSERT_TRUE(model.ok()) << model.status();
    ExpectSameLogits(**model, arch);
  }
}

TEST(TorchScriptExportTest, TrainedModelsGiveTheirOwnLogits) {
  auto model = Model::Create("small_cnn", 5);
  ASSERT_TRUE(model.ok());
  TrainOptions options;
  options.epochs = 1;
  ASSERT_TRUE((*model)->Train(testing::SquaresDataset(10, 1), options).ok());
  ExpectSameLogits(**model, "trained");
}

// An imported chain: padding, dropout (left out: inference) and a bias-free
// layer order as PyTorch wrote it.
TEST(TorchScriptExportTest, ImportedChainsGiveTheirOwnLogits) {
  const std::string source = TempPath("chain_source.pt");
  ASSERT_TRUE(testing::WriteTorchScriptFixture(testing::Fixture::kChainCnn,
                                               source)
                  .ok());
  auto model = Model::ImportTorchScript(source);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectSameLogits(**model, "chain");
}

// PyTorch itself (python3-torch) loads `model`'s export and reproduces
// its logits.
void ExpectPyTorchReproduces(Model& model, const std::string& name) {
  const data::ImageDataset data = testing::SquaresDataset(5, 9);
  auto logits = model.Logits(data, 0, data.num_examples);
  ASSERT_TRUE(logits.ok());
  const std::string module = TempPath(name + "_pytorch.pt");
  ASSERT_TRUE(model.ExportTorchScript(module).ok());
  const std::string images = TempPath("images.bin");
  const std::string expected = TempPath("logits.bin");
  std::ofstream(images, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.images.data()),
             static_cast<std::streamsize>(data.images.size()));
  std::ofstream(expected, std::ios::binary)
      .write(reinterpret_cast<const char*>(logits->data()),
             static_cast<std::streamsize>(logits->size() * sizeof(float)));
  const std::string cmd = absl::StrCat(
      "/usr/bin/python3 ", COHORT_SOURCE_DIR,
      "/tests/testdata/torchscript/check_export.py ", module, " ", images, " ",
      expected, " ", data.num_examples);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// Skipped when python3-torch is not installed, unless
// COHORT_TEST_REQUIRE_PYTORCH=1 (./scripts/test, whose install step
// provides it).
TEST(TorchScriptExportTest, PyTorchLoadsTheExportAndReproducesTheLogits) {
  if (!testing::PyTorchModulesDir()) {
    GTEST_SKIP() << "python3-torch is not installed";
  }
  auto model = Model::Create("small_cnn", 4);
  ASSERT_TRUE(model.ok());
  TrainOptions options;
  options.epochs = 1;
  ASSERT_TRUE((*model)->Train(testing::SquaresDataset(10, 2), options).ok());
  ExpectPyTorchReproduces(**model, "small_cnn");
}

// Batch norm (exported folded into its conv, with the running statistics
// training moved), depthwise convs, residuals, ReLU6, hardswish and global
// average pooling, in LibTorch and in PyTorch.
TEST(TorchScriptExportTest, TrainedMobileNetStyleImportGivesItsLogits) {
  const auto dir = testing::PyTorchModulesDir();
  if (!dir) GTEST_SKIP() << "python3-torch is not installed";
  auto model = Model::ImportTorchScript(*dir + "/mobilenet_style.pt");
  ASSERT_TRUE(model.ok()) << model.status();
  TrainOptions options;
  options.epochs = 1;
  ASSERT_TRUE((*model)->Train(testing::SquaresDataset(10, 2), options).ok());
  ExpectSameLogits(**model, "mobilenet_style");
  ExpectPyTorchReproduces(**model, "mobilenet_style");
}

TEST(TorchScriptExportTest, AnUnwritablePathIsAnError) {
  auto model = Model::Create("mlp", 1);
  ASSERT_TRUE(model.ok());
  absl::Status s = (*model)->ExportTorchScript("/nonexistent/dir/model.pt");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
}

}  // namespace
}  // namespace cohort::ml
