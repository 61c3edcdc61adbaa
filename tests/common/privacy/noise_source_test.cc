#include "common/privacy/noise_source.h"

#include <array>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::privacy {
namespace {

std::array<uint8_t, 32> Seed(uint8_t first) {
  std::array<uint8_t, 32> seed{};
  seed[0] = first;
  return seed;
}

std::vector<double> Draw(uint8_t seed, int n) {
  auto noise = NoiseSource::Create(Seed(seed));
  EXPECT_TRUE(noise.ok());
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(*noise->Next());
  return out;
}

TEST(NoiseSourceTest, ASeedFixesTheDraws) {
  EXPECT_EQ(Draw(1, 100), Draw(1, 100));
  EXPECT_NE(Draw(1, 100), Draw(2, 100));
  EXPECT_FALSE(NoiseSource::Create(std::vector<uint8_t>(31)).ok());
}

// Pearson's chi-square of 200,000 draws over 14 bins of width 0.5 between
// -3 and 3 (and the two tails) against the standard normal's probabilities.
// 13 degrees of freedom: 34.5 is the 0.001 critical value. The seed is
// fixed, so the test is deterministic; a wrong variance or a biased
// uniform gives statistics in the thousands.
TEST(NoiseSourceTest, DrawsFollowTheStandardNormal) {
  const std::vector<double> draws = Draw(3, 200000);
  std::vector<double> edges = {-INFINITY};
  for (double e = -3.0; e <= 3.0; e += 0.5) edges.push_back(e);
  edges.push_back(INFINITY);
  std::vector<int64_t> counts(edges.size() - 1, 0);
  for (double d : draws) {
    for (size_t b = 0; b + 1 < edges.size(); ++b) {
      if (d >= edges[b] && d < edges[b + 1]) ++counts[b];
    }
  }
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  double chi2 = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    const double expected = draws.size() * (cdf(edges[b + 1]) - cdf(edges[b]));
    chi2 += (counts[b] - expected) * (counts[b] - expected) / expected;
  }
  EXPECT_LT(chi2, 34.5);
}

TEST(NoiseSourceTest, AddToScalesByTheDeviation) {
  auto noise = NoiseSource::Create(Seed(4));
  ASSERT_TRUE(noise.ok());
  std::vector<float> values(100000, 5.0f);
  ASSERT_TRUE(noise->AddTo(absl::MakeSpan(values), 3.0).ok());
  double sum = 0, sq = 0;
  for (float v : values) {
    sum += v;
    sq += (v - 5.0) * (v - 5.0);
  }
  EXPECT_NEAR(sum / values.size(), 5.0, 0.05);
  EXPECT_NEAR(std::sqrt(sq / values.size()), 3.0, 0.03);
}

}  // namespace
}  // namespace cohort::privacy
