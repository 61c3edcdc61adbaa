// The per-round privacy steps: CheckPrivateSum, Privatize, UpdateSensitivity.

#include "server/round/round_privacy.h"

#include <cmath>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_task_model.h"

namespace cohort::server {
namespace {

RoundOptions Private(bool distributed) {
  RoundOptions o;
  o.privacy.enabled = true;
  o.privacy.distributed = distributed;
  o.privacy.noise_multiplier = 1.0;
  o.privacy.update_noise_multiplier = 1.0;
  o.privacy.noise_seed = 3;
  o.privacy.min_contributors = distributed ? 5 : 0;
  return o;
}

secagg::DecodedUpdateSum SumOf(int64_t count) {
  secagg::DecodedUpdateSum sum;
  sum.capped_examples = count;
  sum.weight_sum = static_cast<double>(count);
  return sum;
}

TEST(CheckPrivateSumTest, AForgedCountIsNotReleased) {
  // Six inputs that weigh 1 each sum to 6; a device that sends -4 for its
  // count makes the total 1, so the mean would be the whole sum.
  EXPECT_TRUE(CheckPrivateSum(Private(false), 6, SumOf(6)).ok());
  EXPECT_EQ(CheckPrivateSum(Private(false), 6, SumOf(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Without DP the count is the FedAvg weight, not checked here.
  EXPECT_TRUE(CheckPrivateSum(RoundOptions(), 6, SumOf(1)).ok());
}

TEST(CheckPrivateSumTest, TooFewInputsCarryTooLittleNoise) {
  EXPECT_TRUE(CheckPrivateSum(Private(true), 5, SumOf(5)).ok());
  EXPECT_EQ(CheckPrivateSum(Private(true), 4, SumOf(4)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

RoundResult ResultOf(int64_t participants) {
  RoundResult r;
  r.round_id = 2;
  r.mean_delta = testing::FakeTaskModel(1000).Filled(0.0f);
  r.participants = participants;
  r.mean_loss = 0.3;
  r.clipped = 2;
  return r;
}

TEST(PrivatizeTest, CentralNoiseHasTheCalibratedDeviationAndHidesTheRest) {
  RoundResult r = ResultOf(10);
  ASSERT_TRUE(Privatize(Private(false).privacy, 2.0, r).ok());
  double sq = 0;
  for (float v : model::FloatView(r.mean_delta.tensors(0))) sq += v * v;
  // z * sensitivity / n = 1 * 2 / 10 per coordinate.
  EXPECT_NEAR(std::sqrt(sq / 1000), 0.2, 0.02);
  EXPECT_TRUE(std::isnan(r.mean_loss));
  // No noise of its own on the count: not released.
  EXPECT_FALSE(r.clipped.has_value());
  RoundResult none = ResultOf(0);
  EXPECT_EQ(Privatize(Private(false).privacy, 2.0, none).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PrivatizeTest, DistributedLeavesTheNoisySumAlone) {
  RoundResult r = ResultOf(10);
  ASSERT_TRUE(Privatize(Private(true).privacy, 2.0, r).ok());
  for (float v : model::FloatView(r.mean_delta.tensors(0))) ASSERT_EQ(v, 0.0f);
  EXPECT_TRUE(std::isnan(r.mean_loss));
  EXPECT_FALSE(r.clipped.has_value());
}

TEST(UpdateSensitivityTest, SecureRoundsAddTheirRounding) {
  RoundOptions plain;
  EXPECT_EQ(UpdateSensitivity(plain, 3.0, 1000), 3.0);
  RoundOptions secure;
  secure.secagg.enabled = true;
  const double s = UpdateSensitivity(secure, 3.0, 1000);
  // 16 bits for a bound of 3: a quantum of 3 / (2^15 - 2); 1000 of them.
  EXPECT_NEAR(s, 3.0 + std::sqrt(1000.0) * 3.0 / (32768 - 2), 1e-9);
}

}  // namespace
}  // namespace cohort::server
