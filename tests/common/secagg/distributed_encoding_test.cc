#include "common/secagg/distributed_encoding.h"

#include <cmath>
#include <vector>

#include "common/base/splitmix64.h"
#include "common/codec/encoder.h"
#include "common/secagg/secagg_wire.h"
#include "gtest/gtest.h"

namespace cohort::secagg {
namespace {

TEST(PlanDistributedEncodingTest, NoiseCoversTheFewestContributors) {
  auto e = PlanDistributedEncoding(16, 1.0, 3, 1000, 40, 25, 1.2);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->params.rotate);
  EXPECT_EQ(e->example_cap, 1);
  // 16 bits plus ceil(log2 40) = 6 of headroom.
  EXPECT_EQ(e->params.bits, 22);
  EXPECT_DOUBLE_EQ(e->rounding_bound, RoundedNormBound(e->params.scale, 1024));
  // 25 devices' noise together: deviation z times the rounding bound.
  EXPECT_NEAR(e->noise_stddev * std::sqrt(25.0), 1.2 * e->rounding_bound, 1e-6);
  EXPECT_TRUE(ValidateUpdateEncoding(*e).ok());
  // Four deviations of the noisy sum of 40 fill the modulus: more devices,
  // or more noise, leave a coarser scale.
  auto noisier = PlanDistributedEncoding(16, 1.0, 3, 1000, 40, 25, 4.0);
  ASSERT_TRUE(noisier.ok());
  EXPECT_LT(noisier->params.scale, e->params.scale);
}

TEST(PlanDistributedEncodingTest, RefusesWhatCannotWork) {
  EXPECT_FALSE(PlanDistributedEncoding(16, 1.0, 0, 100, 10, 11, 1.0).ok());
  EXPECT_FALSE(PlanDistributedEncoding(16, 1.0, 0, 100, 10, 0, 1.0).ok());
  EXPECT_FALSE(PlanDistributedEncoding(16, 1.0, 0, 100, 10, 5, 0.0).ok());
  EXPECT_FALSE(PlanDistributedEncoding(1, 1.0, 0, 100, 10, 5, 1.0).ok());
  // Two bits cannot hold the rounding noise of 2^20 coordinates.
  EXPECT_FALSE(PlanDistributedEncoding(2, 1.0, 0, 1 << 20, 10, 5, 1.0).ok());
  auto e = PlanDistributedEncoding(16, 1.0, 0, 100, 10, 5, 1.0);
  ASSERT_TRUE(e.ok());
  UpdateEncoding no_rotation = *e;
  no_rotation.params.rotate = false;
  EXPECT_FALSE(ValidateUpdateEncoding(no_rotation).ok());
  UpdateEncoding huge = *e;
  huge.noise_stddev = 1e30;
  EXPECT_FALSE(ValidateUpdateEncoding(huge).ok());
}

// n devices each encode a zero update with noise; the decoded sum's
// coordinates have the deviation sqrt(n) * noise_stddev / scale, and the
// loss and clipped coordinates stay 0: only the noisy delta and the count
// are summed.
TEST(DistributedEncodingTest, TheSumCarriesTheDevicesNoiseAndNothingElse) {
  const int n = 30;
  const int64_t d = 2000;
  auto e = PlanDistributedEncoding(16, 1.0, 5, d, n, n, 1.0);
  ASSERT_TRUE(e.ok()) << e.status();
  base::SplitMix64 rng(17);
  auto uniform = [&rng] { return rng.NextDouble(); };
  auto noise = [&rng] { return 1.0 - rng.NextDouble(); };  // (0, 1]
  std::vector<uint64_t> sum(InputLength(*e), 0);
  for (int i = 0; i < n; ++i) {
    std::vector<float> delta(d, 0.0f);
    delta[i] = 5.0f;  // clipped to norm 1
    auto input = EncodeUpdate(*e, delta, 40, 0.7, uniform, {}, noise);
    ASSERT_TRUE(input.ok()) << input.status();
    ASSERT_TRUE(codec::ModularAdd(absl::MakeSpan(sum), *input, e->params.bits).ok());
  }
  auto decoded = DecodeUpdateSum(*e, sum);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->capped_examples, n);
  EXPECT_EQ(decoded->clipped_updates, 0);
  EXPECT_EQ(decoded->mean_loss, 0.0);
  // Coordinates n.. of the sum hold no update: only noise and rounding.
  double sq = 0;
  int count = 0;
  for (int64_t i = n; i < d; ++i) {
    sq += decoded->weighted_delta_sum[i] * decoded->weighted_delta_sum[i];
    ++count;
  }
  const double expected = std::sqrt(n) * e->noise_stddev / e->params.scale;
  EXPECT_NEAR(std::sqrt(sq / count), expected, 0.05 * expected);
  // The updates survive it: coordinate i holds device i's 1, give or take
  // the noise.
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(decoded->weighted_delta_sum[i], 1.0, 5 * expected) << i;
  }
}

TEST(DistributedEncodingTest, WithoutANoiseSourceItRefuses) {
  auto e = PlanDistributedEncoding(16, 1.0, 5, 100, 10, 10, 1.0);
  ASSERT_TRUE(e.ok());
  base::SplitMix64 rng(1);
  std::vector<float> delta(100, 0.01f);
  EXPECT_EQ(EncodeUpdate(*e, delta, 1, 0.5, [&rng] { return rng.NextDouble(); })
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DistributedEncodingTest, TheBeginMessageCarriesTheNoise) {
  auto e = PlanDistributedEncoding(16, 1.0, 5, 100, 10, 10, 1.0);
  ASSERT_TRUE(e.ok());
  BeginParams p;
  p.config.n = 10;
  p.config.k = 9;
  p.config.t = 6;
  p.config.bits = e->params.bits;
  p.config.vector_length = InputLength(*e);
  p.client_id = 3;
  p.encoding = *e;
  auto parsed = ParseBegin(MakeBegin(p));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->encoding.noise_stddev, e->noise_stddev);
  EXPECT_EQ(parsed->encoding.rounding_bound, e->rounding_bound);
}

}  // namespace
}  // namespace cohort::secagg
