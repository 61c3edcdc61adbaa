// Issue 14's acceptance: a MobileNetV2-style module that PyTorch exported
// (batch norm, depthwise convs, residual additions, ReLU6, hardswish) is
// imported, trained two rounds in the simulator with QAT and int8
// artifacts, exported to ONNX, and ONNX Runtime agrees with Cohort.

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/data/idx_reader.h"
#include "common/ml/model.h"
#include "gtest/gtest.h"
#include "sim/sim_config.h"
#include "tests/common/ml/onnx_runtime.h"
#include "tests/common/ml/pytorch_modules.h"
#include "tests/sim/sim_run.h"

namespace cohort::sim {
namespace {

using ml::testing::Agreement;
using ml::testing::MaxDifference;
using ml::testing::Predictions;

cohort::v1::SimConfig TwoRounds(const std::string& module) {
  cohort::v1::SimConfig c;
  c.mutable_population()->set_num_clients(100);
  c.mutable_population()->set_mean_examples(120);
  c.set_clients_per_round(10);
  c.mutable_round()->set_min_reports(8);
  c.mutable_plan()->set_batch_size(8);
  c.mutable_plan()->set_learning_rate(0.05f);
  c.mutable_plan()->set_momentum(0.9f);
  c.mutable_plan()->set_epochs(3);
  c.set_torchscript_path(module);
  // The defaults: SecAgg+ over updates clipped to 10. The module's batch
  // norm statistics start far from the data's (their first deltas have 5
  // to 15 times the weights' norm); clipped and encoded apart from the
  // weights (model/running_statistics.h), they move all the way and leave
  // the weights their change.
  c.set_rounds(2);
  c.set_seed(14);
  c.mutable_data()->set_idx_dir(data::kDefaultFashionMnistDir);
  c.mutable_data()->set_max_examples(6000);
  return c;
}

TEST(ImportedMobileTest, TrainsTwoRoundsAndOnnxRuntimeAgrees) {
  const auto modules = ml::testing::PyTorchModulesDir();
  if (!modules) GTEST_SKIP() << "python3-torch is not installed";
  if (!ml::testing::HaveOnnxRuntime()) {
    GTEST_SKIP() << "ONNX Runtime or python3-onnx missing";
  }
  auto train =
      data::LoadFashionMnist(data::kDefaultFashionMnistDir, false, 200);
  auto test = data::LoadFashionMnist(data::kDefaultFashionMnistDir, true, 500);
  if (!ml::testing::Have(train.ok() && test.ok(), "dataset-fashion-mnist")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const std::string dir = ::testing::TempDir() + "/imported_mobile";
  std::filesystem::remove_all(dir);
  const std::string module = *modules + "/mobilenet_style.pt";

  testing::SimRun run = testing::RunScenario(
      TwoRounds(module), TransportKind::kInProcess, dir + "/state");
  ASSERT_EQ(run.rows.size(), 2u);
  ASSERT_NE(run.sim, nullptr);
  for (const SimRoundRow& row : run.rows) EXPECT_GE(row.participants, 8);
  const auto published = run.sim->current_model();
  ASSERT_TRUE(published->int8) << "devices were served the int8 artifact";

  // The master the rounds produced, batch norm statistics included.
  auto imported = ml::Model::ImportTorchScript(module);
  auto model = ml::Model::Create(published->architecture, 1);
  ASSERT_TRUE(imported.ok() && model.ok());
  ASSERT_TRUE((*model)->SetWeights(published->weights).ok());
  EXPECT_NE((*imported)->GetWeights().SerializeAsString(),
            published->weights.SerializeAsString())
      << "two rounds must have moved the weights";

  auto runs = ml::testing::ExportAndRunBoth(**model, *train,
                                            dir + "/mobile", *test);
  ASSERT_TRUE(runs.ok()) << runs.status();
  const float fp32_diff = MaxDifference(runs->ours_fp32, runs->ort_fp32);
  const double fp32_agreement =
      Agreement(Predictions(runs->ours_fp32), Predictions(runs->ort_fp32));
  const double int8_agreement =
      Agreement(Predictions(runs->ours_int8), Predictions(runs->ort_int8));
  std::printf("after 2 rounds, %lld images: fp32 largest logit difference "
              "%.3g, predictions agree on %.1f%%; int8 on %.1f%%; test "
              "accuracy %.3f -> %.3f\n",
              static_cast<long long>(test->num_examples), fp32_diff,
              100 * fp32_agreement, 100 * int8_agreement,
              run.rows.front().test_accuracy, run.rows.back().test_accuracy);
  // One clip over weights and statistics left it at exactly 0.1000.
  EXPECT_GT(run.rows.back().test_accuracy, 0.15) << "above chance, 0.1";
  EXPECT_LE(fp32_diff, 1e-4);
  EXPECT_EQ(fp32_agreement, 1.0);
  // A model two rounds from chance has many near ties, which int8 rounding
  // in two runtimes breaks differently: the bar is lower than the 99% the
  // trained small CNN meets (OnnxRuntimeTest), and int8 kernels differ with
  // the CPU. Measured: 98.6% (rounds reaching 0.228) on an Intel Xeon,
  // 96.0% (0.301) on an AMD EPYC; the fp32 checks above are the exact ones.
  EXPECT_GE(int8_agreement, 0.95);
}

}  // namespace
}  // namespace cohort::sim
