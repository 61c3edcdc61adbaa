#include "common/model/running_statistics.h"

#include <cmath>
#include <string>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::model {
namespace {

void Add(cohort::v1::Weights* w, const std::string& name,
         std::vector<float> values) {
  auto* t = w->add_tensors();
  t->set_name(name);
  t->add_shape(static_cast<int64_t>(values.size()));
  SetFloatData(values, t);
}

// conv weight (3, 4) and a batch norm's mean (0, 0) and variance (30, 40).
cohort::v1::Weights Update() {
  cohort::v1::Weights w;
  Add(&w, "stem_0.conv.weight", {3, 4});
  Add(&w, "stem_0.bn.running_mean", {0, 0});
  Add(&w, "stem_0.bn.running_var", {30, 40});
  return w;
}

cohort::v1::Weights plain_model() {
  cohort::v1::Weights w;
  Add(&w, "fc.weight", {1, 2});
  return w;
}

std::vector<float> Values(const cohort::v1::Weights& w, int i) {
  auto v = FloatView(w.tensors(i));
  return {v.begin(), v.end()};
}

TEST(RunningStatisticsTest, TellsStatisticsByTheirBufferNames) {
  const cohort::v1::Weights w = Update();
  EXPECT_FALSE(IsRunningStatistic(w.tensors(0)));
  EXPECT_TRUE(IsRunningStatistic(w.tensors(1)));
  EXPECT_TRUE(IsRunningStatistic(w.tensors(2)));
  EXPECT_FALSE(IsRunningVariance(w.tensors(1)));
  EXPECT_TRUE(IsRunningVariance(w.tensors(2)));
  EXPECT_EQ(CountStatistics(w), 4);
  // 4 * ||(0, 0, 30, 40)|| + 4 * sqrt(4).
  EXPECT_DOUBLE_EQ(DefaultStatisticsClipNorm(w), 208.0);
  EXPECT_EQ(DefaultStatisticsClipNorm(plain_model()), 0.0);
  EXPECT_DOUBLE_EQ(EncodedUpdateBound(10, w), 10 * std::sqrt(2.0));
  cohort::v1::Weights plain;
  Add(&plain, "fc.weight", {1});
  EXPECT_EQ(CountStatistics(plain), 0);
  EXPECT_DOUBLE_EQ(EncodedUpdateBound(10, plain), 10);
}

TEST(RunningStatisticsTest, BlocksAreMeasuredApart) {
  const BlockNorms norms = NormsOf(Update());
  EXPECT_DOUBLE_EQ(norms.trainable, 5.0);
  EXPECT_DOUBLE_EQ(norms.statistics, 50.0);
}

// The statistics are 10x the weights' norm: one joint clip to 10 would
// leave the weights a fifth of their change; apart, they keep all of it.
TEST(RunningStatisticsTest, PrepareClipsEachBlockToItsOwnBound) {
  cohort::v1::Weights w = Update();
  // Statistics bound 100 (their norm 50 fits), carried at 10 / 100.
  EXPECT_FALSE(PrepareUpdate(&w, 10, 100));
  EXPECT_EQ(Values(w, 0), (std::vector<float>{3, 4}));
  EXPECT_FLOAT_EQ(Values(w, 2)[0], 3.0f);
  EXPECT_FLOAT_EQ(Values(w, 2)[1], 4.0f);

  // Statistics bound 25: they are halved, then carried at 10 / 25.
  w = Update();
  EXPECT_TRUE(PrepareUpdate(&w, 10, 25));
  EXPECT_EQ(Values(w, 0), (std::vector<float>{3, 4}));
  EXPECT_NEAR(NormsOf(w).statistics, 10.0, 1e-5);

  // Weights over their bound are clipped; the statistics are not touched.
  w = Update();
  EXPECT_TRUE(PrepareUpdate(&w, 2.5, 100));
  EXPECT_NEAR(NormsOf(w).trainable, 2.5, 1e-6);
  EXPECT_NEAR(NormsOf(w).statistics, 50 * 2.5 / 100, 1e-5);
}

TEST(RunningStatisticsTest, WithoutAStatisticsBoundTheUpdateIsOneBlock) {
  cohort::v1::Weights w = Update();
  EXPECT_TRUE(PrepareUpdate(&w, 10, 0));
  EXPECT_NEAR(L2Norm(w), 10.0, 1e-5);
  EXPECT_NEAR(Values(w, 0)[0], 3 * 10 / std::hypot(5.0, 50.0), 1e-5);
  // No clip norm: nothing changes.
  w = Update();
  EXPECT_FALSE(PrepareUpdate(&w, 0, 100));
  EXPECT_EQ(w.SerializeAsString(), Update().SerializeAsString());
}

TEST(RunningStatisticsTest, ScalingBackRestoresTheStatistics) {
  cohort::v1::Weights w = Update();
  ASSERT_FALSE(PrepareUpdate(&w, 10, 100));
  ScaleStatistics(&w, 100.0 / 10.0);
  EXPECT_FLOAT_EQ(Values(w, 2)[0], 30.0f);
  EXPECT_FLOAT_EQ(Values(w, 2)[1], 40.0f);
  EXPECT_EQ(Values(w, 0), (std::vector<float>{3, 4}));
}

TEST(RunningStatisticsTest, NegativeVariancesBecomeZero) {
  cohort::v1::Weights w;
  Add(&w, "b.running_mean", {-1});
  Add(&w, "b.running_var", {-0.5f, 2});
  ClampVariances(&w);
  EXPECT_EQ(Values(w, 0), (std::vector<float>{-1}));
  EXPECT_EQ(Values(w, 1), (std::vector<float>{0, 2}));
}

}  // namespace
}  // namespace cohort::model
