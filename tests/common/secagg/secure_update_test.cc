#include "common/secagg/secure_update.h"

#include <cmath>
#include <vector>

#include "common/codec/encoder.h"
#include "common/base/splitmix64.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::secagg {
namespace {

std::vector<float> RandomDelta(int64_t d, uint64_t seed, double scale) {
  base::SplitMix64 rng(seed);
  std::vector<float> v(d);
  for (auto& x : v) x = static_cast<float>((rng.NextDouble() - 0.5) * scale);
  return v;
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double{x} * x;
  return std::sqrt(s);
}

TEST(PlanUpdateEncodingTest, ModulusHasHeadroomForTheCohort) {
  auto e = PlanUpdateEncoding(16, 1.0, false, 0, 1000, 100, 100);
  ASSERT_TRUE(e.ok()) << e.status();
  // 100 inputs of magnitude < 2^15 need 2^b > 2 * 100 * 2^15, so b >= 23.
  EXPECT_GE(e->params.bits, 23);
  EXPECT_LE(e->params.bits, 25);
  EXPECT_EQ(InputLength(*e), 100 + kExtraCoordinates);
  auto bigger = PlanUpdateEncoding(16, 1.0, false, 0, 1000, 100, 10000);
  ASSERT_TRUE(bigger.ok());
  EXPECT_GT(bigger->params.bits, e->params.bits);
}

TEST(PlanUpdateEncodingTest, RejectsOutOfRangeSettings) {
  EXPECT_FALSE(PlanUpdateEncoding(1, 1.0, false, 0, 10, 10, 10).ok());
  EXPECT_FALSE(PlanUpdateEncoding(31, 1.0, false, 0, 10, 10, 10).ok());
  EXPECT_FALSE(PlanUpdateEncoding(16, 0.0, false, 0, 10, 10, 10).ok());
  EXPECT_FALSE(PlanUpdateEncoding(16, 1.0, false, 0, 0, 10, 10).ok());
  EXPECT_FALSE(PlanUpdateEncoding(16, 1.0, false, 0, 10, 0, 10).ok());
  EXPECT_FALSE(PlanUpdateEncoding(16, 1.0, false, 0, 10, 10, 0).ok());
}

// The modular sum of n encodings decodes to the capped-example-weighted sum
// of the clipped deltas, the exact capped example total and the weighted
// mean loss.
void CheckSumDecodes(bool rotate) {
  const int n = 20;
  const int64_t d = 300;
  const int64_t cap = 50;
  const double clip = 1.0;
  auto e = PlanUpdateEncoding(16, clip, rotate, 7, cap, d, n);
  ASSERT_TRUE(e.ok()) << e.status();
  base::SplitMix64 rng(99);
  std::vector<uint64_t> sum(InputLength(*e), 0);
  std::vector<double> expected(d, 0.0);
  double weights = 0, loss_sum = 0;
  int64_t examples = 0, clipped = 0;
  for (int i = 0; i < n; ++i) {
    // Some deltas are over the clip norm, some under; some counts over cap.
    std::vector<float> delta = RandomDelta(d, i + 1, i % 2 == 0 ? 0.5 : 0.05);
    const int64_t count = 10 + 7 * i;
    const double loss = 0.1 * i;
    auto enc = EncodeUpdate(*e, delta, count, loss, [&] { return rng.NextDouble(); });
    ASSERT_TRUE(enc.ok()) << enc.status();
    ASSERT_EQ(static_cast<int64_t>(enc->size()), InputLength(*e));
    ASSERT_TRUE(codec::ModularAdd(absl::MakeSpan(sum), *enc, e->params.bits).ok());
    const int64_t capped = std::min(count, cap);
    const double w = static_cast<double>(capped) / cap;
    const double f = std::min(1.0, clip / Norm(delta));
    for (int64_t j = 0; j < d; ++j) expected[j] += w * f * delta[j];
    weights += w;
    loss_sum += w * loss;
    examples += capped;
    clipped += Norm(delta) > clip ? 1 : 0;
  }
  auto decoded = DecodeUpdateSum(*e, sum);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->capped_examples, examples);
  // Half the deltas are over the clip norm: the sum counts exactly those.
  EXPECT_EQ(decoded->clipped_updates, clipped);
  EXPECT_GT(clipped, 0);
  EXPECT_LT(clipped, n);
  EXPECT_NEAR(decoded->weight_sum, weights, 1e-12);
  EXPECT_NEAR(decoded->mean_loss, loss_sum / weights, 1e-3);
  // Each rounded coordinate is within one quantum; with rotation the L2
  // error is bounded by n * sqrt(D) quanta (encoder.h).
  const double quantum = 1.0 / e->params.scale;
  double err2 = 0;
  for (int64_t j = 0; j < d; ++j) {
    const double err = decoded->weighted_delta_sum[j] - expected[j];
    if (!rotate) EXPECT_LE(std::abs(err), n * quantum) << j;
    err2 += err * err;
  }
  EXPECT_LE(std::sqrt(err2), n * std::sqrt(512.0) * quantum);
}

TEST(SecureUpdateTest, SumDecodesWithoutRotation) { CheckSumDecodes(false); }
TEST(SecureUpdateTest, SumDecodesWithRotation) { CheckSumDecodes(true); }

// Hierarchical secure aggregation adds decoded group sums: sums and counts
// add, the mean loss is re-weighted, and mismatched layouts are refused.
TEST(SecureUpdateTest, AddDecodedSumsAddsAndReweightsTheLoss) {
  DecodedUpdateSum a{.weighted_delta_sum = {1.0, -2.0},
                     .weight_sum = 1.5,
                     .capped_examples = 15,
                     .mean_loss = 2.0,
                     .clipped_updates = 1,
                     .field_sum = {0.5}};
  DecodedUpdateSum b{.weighted_delta_sum = {0.25, 4.0},
                     .weight_sum = 0.5,
                     .capped_examples = 5,
                     .mean_loss = 6.0,
                     .clipped_updates = 2,
                     .field_sum = {1.0}};
  auto sum = AddDecodedSums(a, b);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->weighted_delta_sum, std::vector<double>({1.25, 2.0}));
  EXPECT_DOUBLE_EQ(sum->weight_sum, 2.0);
  EXPECT_EQ(sum->capped_examples, 20);
  EXPECT_DOUBLE_EQ(sum->mean_loss, (2.0 * 1.5 + 6.0 * 0.5) / 2.0);
  EXPECT_EQ(sum->clipped_updates, 3);
  EXPECT_EQ(sum->field_sum, std::vector<double>({1.5}));
  b.weighted_delta_sum.pop_back();
  EXPECT_EQ(AddDecodedSums(a, b).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SecureUpdateTest, RefusesBadInputs) {
  auto e = PlanUpdateEncoding(16, 1.0, false, 0, 10, 4, 3);
  ASSERT_TRUE(e.ok());
  auto u = [] { return 0.5; };
  std::vector<float> ok = {0.1f, 0.2f, 0.3f, 0.4f};
  EXPECT_TRUE(EncodeUpdate(*e, ok, 5, 1.0, u).ok());
  EXPECT_EQ(EncodeUpdate(*e, {0.1f}, 5, 1.0, u).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeUpdate(*e, ok, 0, 1.0, u).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeUpdate(*e, ok, 5, NAN, u).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> nan = {0.1f, NAN, 0.3f, 0.4f};
  EXPECT_EQ(EncodeUpdate(*e, nan, 5, 1.0, u).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A sum of nothing (count 0) or of the wrong length does not decode.
  std::vector<uint64_t> zero(InputLength(*e), 0);
  EXPECT_FALSE(DecodeUpdateSum(*e, zero).ok());
  zero.pop_back();
  EXPECT_FALSE(DecodeUpdateSum(*e, zero).ok());
  // One input (count 1) cannot have two clipped updates.
  std::vector<uint64_t> one(InputLength(*e), 0);
  one[one.size() - 2] = 1;
  one.back() = 2;
  EXPECT_FALSE(DecodeUpdateSum(*e, one).ok());
  one.back() = 1;
  auto decoded = DecodeUpdateSum(*e, one);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->clipped_updates, 1);
}

}  // namespace
}  // namespace cohort::secagg
