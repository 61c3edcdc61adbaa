#include "common/privacy/discrete_gaussian.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/base/splitmix64.h"
#include "gtest/gtest.h"

namespace cohort::privacy {
namespace {

// The normalized discrete Gaussian pmf at y.
double Pmf(double sigma, int64_t y) {
  double norm = 0;
  const int64_t reach = static_cast<int64_t>(40 * sigma) + 40;
  for (int64_t k = -reach; k <= reach; ++k) {
    norm += std::exp(-static_cast<double>(k * k) / (2 * sigma * sigma));
  }
  return std::exp(-static_cast<double>(y * y) / (2 * sigma * sigma)) / norm;
}

// Pearson's chi-square of 200,000 draws at a fixed seed against the pmf, over
// the integers within 3 sigma (each its own bin) and the two tails beyond.
// The statistic is compared with the 0.001 critical value of its degrees of
// freedom (Wilson-Hilferty approximation), so only a wrong distribution
// fails; the seed makes the test deterministic.
double ChiSquare(double sigma, uint64_t seed, int* bins) {
  base::SplitMix64 rng(seed);
  auto uniform = [&rng] { return 1.0 - rng.NextDouble(); };  // (0, 1]
  const int n = 200000;
  const int64_t edge = static_cast<int64_t>(std::floor(3 * sigma));
  std::map<int64_t, int64_t> counts;
  for (int i = 0; i < n; ++i) {
    const int64_t y = *SampleDiscreteGaussian(sigma, uniform);
    counts[std::clamp<int64_t>(y, -edge - 1, edge + 1)]++;
  }
  double tail = 0;
  for (int64_t y = -edge; y <= edge; ++y) tail += Pmf(sigma, y);
  tail = (1 - tail) / 2;
  double chi2 = 0;
  for (int64_t y = -edge - 1; y <= edge + 1; ++y) {
    const double p = (y < -edge || y > edge) ? tail : Pmf(sigma, y);
    const double expected = n * p;
    const double got = static_cast<double>(counts[y]);
    chi2 += (got - expected) * (got - expected) / expected;
  }
  *bins = static_cast<int>(2 * edge + 3);
  return chi2;
}

double CriticalValue(int dof) {
  // Wilson-Hilferty: chi2_p ~ k (1 - 2/(9k) + z_p sqrt(2/(9k)))^3, z = 3.09.
  const double k = dof;
  const double c = 1 - 2 / (9 * k) + 3.09 * std::sqrt(2 / (9 * k));
  return k * c * c * c;
}

TEST(DiscreteGaussianTest, DrawsFollowThePmf) {
  for (double sigma : {0.5, 1.0, 2.5, 7.3}) {
    int bins = 0;
    const double chi2 = ChiSquare(sigma, 11, &bins);
    EXPECT_LT(chi2, CriticalValue(bins - 1)) << "sigma " << sigma;
  }
}

TEST(DiscreteGaussianTest, AWrongDistributionFails) {
  // The same statistic against draws of twice the deviation is far beyond
  // the critical value: the test can fail.
  base::SplitMix64 rng(5);
  auto uniform = [&rng] { return 1.0 - rng.NextDouble(); };  // (0, 1]
  const double sigma = 2.0;
  std::map<int64_t, int64_t> counts;
  for (int i = 0; i < 20000; ++i) {
    counts[std::clamp<int64_t>(*SampleDiscreteGaussian(2 * sigma, uniform), -7, 7)]++;
  }
  double chi2 = 0;
  for (int64_t y = -6; y <= 6; ++y) {
    const double expected = 20000 * Pmf(sigma, y);
    chi2 += (counts[y] - expected) * (counts[y] - expected) / expected;
  }
  EXPECT_GT(chi2, 10 * CriticalValue(12));
}

TEST(DiscreteGaussianTest, MomentsMatch) {
  base::SplitMix64 rng(8);
  auto uniform = [&rng] { return 1.0 - rng.NextDouble(); };  // (0, 1]
  double sum = 0, sq = 0;
  for (int i = 0; i < 100000; ++i) {
    const double y = static_cast<double>(*SampleDiscreteGaussian(20.0, uniform));
    sum += y;
    sq += y * y;
  }
  EXPECT_NEAR(sum / 100000, 0.0, 0.3);
  // For sigma >= 1 the variance is sigma^2 to within e^(-2 pi^2 sigma^2).
  EXPECT_NEAR(std::sqrt(sq / 100000), 20.0, 0.2);
}

TEST(DiscreteGaussianTest, BadDeviationsAndABrokenSourceAreErrorsNotHangs) {
  auto half = [] { return 0.5; };
  for (double sigma : {0.0, 1e-200, -1.0, 1e30, std::nan("")}) {
    EXPECT_EQ(SampleDiscreteGaussian(sigma, half).status().code(),
              absl::StatusCode::kInvalidArgument)
        << sigma;
  }
  // A source stuck at 1 proposes 0 forever and never accepts it.
  auto stuck = [] { return 1.0; };
  EXPECT_EQ(SampleDiscreteGaussian(3.0, stuck).status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace cohort::privacy
