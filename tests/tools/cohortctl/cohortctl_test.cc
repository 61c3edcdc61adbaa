// `cohortctl model optimize` as an operator runs it: the binary on a small
// synthetic Fashion-MNIST, checking the report and the artifacts it writes.

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/ml/model.h"
#include "common/ml/testing/torchscript_fixtures.h"
#include "common/ml/testing/torchscript_runner.h"
#include "common/model/quantize.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/ml/squares_dataset.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::testing {
namespace {

using ::testing::HasSubstr;

class CohortctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test: ctest -j runs these tests in parallel processes.
    dir_ = ::testing::TempDir() + "/cohortctl_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(WriteSyntheticFashionMnist(dir_ + "/data", 600, 200, 3));
  }

  int Run(std::vector<std::string> args, std::string* log) {
    std::vector<std::string> argv = {BinaryPath("cohortctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* flag :
         {"--epochs=1", "--distill_epochs=1", "--prune_epochs=1",
          "--runs_b1=5", "--runs_b32=2", "--train_threads=1"}) {
      argv.push_back(flag);
    }
    argv.push_back("--data_dir=" + dir_ + "/data");
    Subprocess ctl(argv, dir_ + "/log.txt");
    const std::optional<int> code = ctl.Wait(absl::Minutes(5));
    *log = ctl.Log();
    return code.value_or(-1);
  }

  // Value of `key` in the JSON object of `variant`.
  static double Field(const std::string& json, const std::string& variant,
                      const std::string& key) {
    const size_t at = json.find("\"variant\": \"" + variant + "\"");
    EXPECT_NE(at, std::string::npos) << variant;
    const std::string object = json.substr(at, json.find('}', at) - at);
    std::smatch m;
    const std::regex re("\"" + key + "\": ([0-9.eE+-]+)");
    EXPECT_TRUE(std::regex_search(object, m, re)) << variant << " " << key;
    return m.empty() ? -1.0 : std::stod(m[1]);
  }

  std::string dir_;
};

TEST_F(CohortctlTest, OptimizeSmallCnnReportsEveryVariantAndWritesArtifacts) {
  std::string log;
  ASSERT_EQ(Run({"model", "optimize", "--arch=small_cnn",
                 "--out=" + dir_ + "/out", "--json"},
                &log),
            0)
      << log;
  auto json = base::ReadFile(dir_ + "/out/report.json", 1 << 20);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(log, HasSubstr("\"variant\": \"fp32\""));
  for (const char* variant :
       {"fp32", "ptq_int8", "qat_int8", "pruned", "distilled"}) {
    for (const char* key :
         {"size_bytes", "latency_ms_p50_b1", "latency_ms_p95_b1",
          "latency_ms_p50_b32", "peak_rss_mib", "test_accuracy"}) {
      EXPECT_GE(Field(*json, variant, key), 0.0) << variant << " " << key;
    }
    EXPECT_TRUE(std::filesystem::exists(
        absl::StrCat(dir_, "/out/", variant, ".weights.pb")))
        << variant;
  }
  EXPECT_GE(Field(*json, "fp32", "size_bytes") /
                Field(*json, "ptq_int8", "size_bytes"),
            3.5);
  EXPECT_LT(Field(*json, "pruned", "num_parameters"),
            Field(*json, "fp32", "num_parameters") / 2);
  EXPECT_LT(Field(*json, "distilled", "num_parameters"),
            Field(*json, "fp32", "num_parameters"));
  EXPECT_GE(Field(*json, "distilled", "student_alone_accuracy"), 0.0);
  EXPECT_THAT(*json, ::testing::ContainsRegex(
                         "\"variant\": \"ptq_int8\", \"engine\": "
                         "\"(qnnpack|onednn)\""));

  // The int8 artifact on disk is a valid, quantized Weights message.
  auto bytes = base::ReadFile(dir_ + "/out/ptq_int8.weights.pb", 1 << 24);
  ASSERT_TRUE(bytes.ok());
  cohort::v1::Weights artifact;
  ASSERT_TRUE(artifact.ParseFromString(*bytes));
  EXPECT_TRUE(model::IsQuantized(artifact));
  EXPECT_TRUE(model::DequantizeWeights(artifact).ok());
}

TEST_F(CohortctlTest, OptimizeImportsATorchScriptModule) {
  const std::string module = dir_ + "/chain.pt";
  ASSERT_TRUE(
      ml::testing::WriteTorchScriptFixture(ml::testing::Fixture::kChainCnn,
                                           module)
          .ok());
  std::string log;
  ASSERT_EQ(Run({"model", "optimize", "--torchscript=" + module,
                 "--out=" + dir_ + "/ts"},
                &log),
            0)
      << log;
  EXPECT_THAT(log, HasSubstr("training fp32 chain:conv2d/features_conv/"));
  EXPECT_THAT(log, HasSubstr("qat_int8"));
}

TEST_F(CohortctlTest, RefusedModuleAndBadUsageExitNonZero) {
  const std::string module = dir_ + "/sigmoid.pt";
  ASSERT_TRUE(ml::testing::WriteTorchScriptFixture(
                  ml::testing::Fixture::kUnsupportedOp, module)
                  .ok());
  std::string log;
  EXPECT_EQ(Run({"model", "optimize", "--torchscript=" + module,
                 "--out=" + dir_ + "/bad"},
                &log),
            1);
  EXPECT_THAT(log, HasSubstr("aten::sigmoid"));
  EXPECT_EQ(Run({"model", "optimize"}, &log), 2);
  EXPECT_THAT(log, HasSubstr("--out is required"));
  EXPECT_EQ(Run({"model", "frobnicate"}, &log), 2);
  EXPECT_THAT(log, HasSubstr("unknown command"));
}

// A version's int8 artifact (a run folder's model.pb) exported as
// TorchScript: the module gives the dequantized model's logits.
TEST_F(CohortctlTest, ExportWritesATorchScriptModuleOfTheWeights) {
  auto model = ml::Model::Create("mlp", 2);
  ASSERT_TRUE(model.ok());
  auto artifact = model::QuantizeWeights((*model)->GetWeights());
  ASSERT_TRUE(artifact.ok());
  const std::string weights = dir_ + "/model.pb";
  ASSERT_TRUE(base::WriteFileAtomically(weights, artifact->SerializeAsString()).ok());
  std::string log;
  ASSERT_EQ(Run({"model", "export", "--arch=mlp", "--weights=" + weights,
                 "--out=" + dir_ + "/model.pt"},
                &log),
            0)
      << log;
  ASSERT_TRUE((*model)->SetWeights(*model::DequantizeWeights(*artifact)).ok());
  const data::ImageDataset images = ml::testing::SquaresDataset(2, 3);
  auto ours = (*model)->Logits(images, 0, images.num_examples);
  auto theirs =
      ml::testing::RunTorchScript(dir_ + "/model.pt", images, 0, images.num_examples);
  ASSERT_TRUE(ours.ok() && theirs.ok()) << theirs.status();
  ASSERT_EQ(ours->size(), theirs->size());
  for (size_t i = 0; i < ours->size(); ++i) {
    EXPECT_NEAR((*ours)[i], (*theirs)[i], 1e-5) << i;
  }
  // Weights of another architecture, a file that is not weights, and a
  // format not built are refused as bad usage.
  EXPECT_EQ(Run({"model", "export", "--arch=small_cnn", "--weights=" + weights,
                 "--out=" + dir_ + "/x.pt"},
                &log),
            2);
  EXPECT_THAT(log, HasSubstr("does not fit small_cnn"));
  ASSERT_TRUE(base::WriteFileAtomically(dir_ + "/junk.pb", "\xff\xff junk").ok());
  EXPECT_EQ(Run({"model", "export", "--arch=mlp", "--weights=" + dir_ + "/junk.pb",
                 "--out=" + dir_ + "/x.pt"},
                &log),
            2);
  EXPECT_THAT(log, HasSubstr("not a serialized Weights message"));
  EXPECT_EQ(Run({"model", "export", "--format=tflite", "--weights=" + weights,
                 "--out=" + dir_ + "/x.tflite"},
                &log),
            2);
  EXPECT_THAT(log, HasSubstr("--format=tflite is not supported"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x.pt"));
}

// ONNX in both precisions; int8 is calibrated on --data_dir's images.
TEST_F(CohortctlTest, ExportWritesOnnxInFp32AndInt8) {
  auto model = ml::Model::Create("small_cnn", 2);
  ASSERT_TRUE(model.ok());
  const std::string weights = dir_ + "/model.pb";
  ASSERT_TRUE(base::WriteFileAtomically(
                  weights, (*model)->GetWeights().SerializeAsString())
                  .ok());
  std::string log;
  for (const std::string precision : {"fp32", "int8"}) {
    const std::string out = absl::StrCat(dir_, "/model_", precision, ".onnx");
    ASSERT_EQ(Run({"model", "export", "--arch=small_cnn", "--format=onnx",
                   "--precision=" + precision, "--weights=" + weights,
                   "--out=" + out},
                  &log),
              0)
        << log;
    onnx::ModelProto onnx_model;
    std::ifstream in(out, std::ios::binary);
    ASSERT_TRUE(onnx_model.ParseFromIstream(&in)) << out;
    int quantize_nodes = 0;
    for (const onnx::NodeProto& node : onnx_model.graph().node()) {
      quantize_nodes += node.op_type() == "QuantizeLinear";
    }
    // int8: the input and each of the four layers' outputs.
    EXPECT_EQ(quantize_nodes, precision == "int8" ? 5 : 0) << precision;
  }
  // int8 TorchScript is not built; calibration needs images.
  EXPECT_EQ(Run({"model", "export", "--arch=small_cnn", "--precision=int8",
                 "--weights=" + weights, "--out=" + dir_ + "/x.pt"},
                &log),
            2);
  EXPECT_THAT(log, HasSubstr("ONNX only"));
  // A manifest is only checked against a root.
  EXPECT_EQ(Run({"model", "export", "--arch=small_cnn", "--format=onnx",
                 "--weights=" + weights, "--manifest=" + weights,
                 "--out=" + dir_ + "/x.onnx"},
                &log),
            2);
  EXPECT_THAT(log, HasSubstr("--manifest and --root go together"));
  std::filesystem::remove_all(dir_ + "/data");
  EXPECT_EQ(Run({"model", "export", "--arch=small_cnn", "--format=onnx",
                 "--precision=int8", "--weights=" + weights,
                 "--out=" + dir_ + "/x.onnx"},
                &log),
            1);
  EXPECT_THAT(log, HasSubstr("calibration images"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x.onnx"));
}

}  // namespace
}  // namespace cohort::testing
