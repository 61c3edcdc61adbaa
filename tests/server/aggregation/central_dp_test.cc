#include "server/aggregation/central_dp.h"

#include <cmath>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

PrivacyOptions Enabled() {
  PrivacyOptions o;
  o.enabled = true;
  o.noise_multiplier = 1.0;
  o.update_noise_multiplier = 1.0;
  o.sampling_rate = 0.1;
  return o;
}

TEST(CentralDpTest, SpentEpsilonGrowsWithRoundsAndIsZeroWithout) {
  EXPECT_EQ(SpentEpsilon(PrivacyOptions(), 10), 0.0);
  EXPECT_EQ(SpentEpsilon(Enabled(), 0), 0.0);
  EXPECT_GT(SpentEpsilon(Enabled(), 2), SpentEpsilon(Enabled(), 1));
}

TEST(CentralDpTest, TheBudgetIsSpentWhenOneMoreRoundWouldExceedIt) {
  PrivacyOptions o = Enabled();
  EXPECT_FALSE(BudgetSpent(o, 1000));  // no budget
  o.target_epsilon = SpentEpsilon(o, 5);
  EXPECT_FALSE(BudgetSpent(o, 4));
  EXPECT_TRUE(BudgetSpent(o, 5));
}

TEST(CentralDpTest, SeededNoiseRepeatsPerRoundAndFreshNoiseDoesNot) {
  PrivacyOptions o = Enabled();
  EXPECT_NE(*NoiseSeed(o, 1), *NoiseSeed(o, 1));
  o.noise_seed = 3;
  EXPECT_EQ(*NoiseSeed(o, 1), *NoiseSeed(o, 1));
  EXPECT_NE(*NoiseSeed(o, 1), *NoiseSeed(o, 2));
}

TEST(CentralDpTest, AddNoiseCoversEveryTensor) {
  cohort::v1::Weights w;
  for (int t = 0; t < 2; ++t) {
    auto* tensor = w.add_tensors();
    tensor->set_dtype(cohort::v1::DTYPE_FLOAT32);
    tensor->add_shape(20000);
    model::SetFloatData(std::vector<float>(20000, 1.0f), tensor);
  }
  auto noise = privacy::NoiseSource::Create(*NoiseSeed(Enabled(), 1));
  ASSERT_TRUE(noise.ok());
  ASSERT_TRUE(AddNoise(w, 0.5, *noise).ok());
  for (const auto& t : w.tensors()) {
    double sq = 0;
    for (float v : model::FloatView(t)) sq += (v - 1.0) * (v - 1.0);
    EXPECT_NEAR(std::sqrt(sq / 20000), 0.5, 0.01);
  }
}

TEST(CentralDpTest, NoisyCountsStayWithinTheRound) {
  auto noise = privacy::NoiseSource::Create(*NoiseSeed(Enabled(), 1));
  ASSERT_TRUE(noise.ok());
  bool differs = false;
  for (int i = 0; i < 200; ++i) {
    auto c = NoisyCount(5, 10, 20.0, *noise);
    ASSERT_TRUE(c.ok());
    EXPECT_GE(*c, 0);
    EXPECT_LE(*c, 10);
    differs = differs || *c != 5;
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(*NoisyCount(5, 10, 0.0, *noise), 5);
}

}  // namespace
}  // namespace cohort::server
