#include "client/agent/profile.h"

#include <random>

#include "common/ml/model.h"
#include "common/model/quantize.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

data::ImageDataset Noise(int64_t n) {
  std::mt19937 rng(3);
  data::ImageDataset d;
  d.num_examples = n;
  d.height = 28;
  d.width = 28;
  for (int64_t i = 0; i < n * 28 * 28; ++i) d.images.push_back(rng() % 256);
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<uint8_t>(i % 10));
  return d;
}

ProfileOptions Quick() {
  ProfileOptions o;
  o.runs_batch1 = 10;
  o.runs_batch32 = 3;
  o.profiled_runs = 4;
  return o;
}

bool HasOperator(const ProfileReport& r, const std::string& prefix) {
  for (const auto& op : r.operators) {
    if (op.name.rfind(prefix, 0) == 0 && op.calls > 0 && op.self_ms >= 0) return true;
  }
  return false;
}

TEST(ProfileTest, Fp32ModelReportsLatencyMemoryAndOperators) {
  auto model = ml::Model::Create("small_cnn", 1);
  ASSERT_TRUE(model.ok());
  auto report = ProfileModel((*model)->GetWeights(), "small_cnn", Noise(64), Quick());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->int8);
  EXPECT_EQ(report->engine, "fp32");
  EXPECT_GT(report->p50_b1_ms, 0);
  EXPECT_GE(report->p95_b1_ms, report->p50_b1_ms);
  EXPECT_GT(report->p50_b32_ms, 0);
  EXPECT_GT(report->peak_rss_mib, 1);
  EXPECT_TRUE(HasOperator(*report, "aten::")) << FormatProfile(*report, false);
  const std::string json = FormatProfile(*report, true);
  EXPECT_NE(json.find("\"latency_ms_p95_b1\""), std::string::npos);
  EXPECT_NE(json.find("\"operators\": [{"), std::string::npos);
}

TEST(ProfileTest, Int8ArtifactRunsOnQuantizedKernels) {
  auto model = ml::Model::Create("small_cnn", 1);
  ASSERT_TRUE(model.ok());
  auto artifact = model::QuantizeWeights((*model)->GetWeights());
  ASSERT_TRUE(artifact.ok());
  auto report = ProfileModel(*artifact, "small_cnn", Noise(64), Quick());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->int8);
  EXPECT_TRUE(report->engine == "qnnpack" || report->engine == "onednn")
      << report->engine;
  EXPECT_TRUE(HasOperator(*report, "quantized::")) << FormatProfile(*report, false);
}

TEST(ProfileTest, WrongArchitectureOrNoDataIsRefused) {
  auto model = ml::Model::Create("mlp", 1);
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE(ProfileModel((*model)->GetWeights(), "small_cnn", Noise(8), Quick()).ok());
  EXPECT_EQ(ProfileModel((*model)->GetWeights(), "mlp", Noise(0), Quick()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::client
