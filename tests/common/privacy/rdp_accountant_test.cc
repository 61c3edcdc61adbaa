#include "common/privacy/rdp_accountant.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Published values: Google's DP accounting library's RDP accountant tests
// (python/dp_accounting/rdp/rdp_privacy_accountant_test.py,
// test_compute_rdp_poisson_sampled_gaussian): q = 0.01, z = 2.5, 50 steps,
// given to 5 significant digits.
TEST(SubsampledGaussianRdpTest, MatchesThePublishedTable) {
  const std::vector<double> orders = {1.5, 2.5, 5, 50, 100};
  const std::vector<double> published = {6.5007e-04, 1.0854e-03, 2.1808e-03,
                                         2.3846e-02, 1.6742e+02};
  RdpAccountant accountant(orders);
  accountant.ComposeSubsampledGaussian(0.01, 2.5, 50);
  for (size_t i = 0; i < orders.size(); ++i) {
    EXPECT_NEAR(accountant.rdp()[i] / published[i], 1.0, 1e-4)
        << "order " << orders[i] << ": " << accountant.rdp()[i];
  }
  EXPECT_EQ(SubsampledGaussianRdp(0.01, 2.5, kInf), kInf);
}

// A_alpha by direct numerical integration (trapezoid rule), an independent
// reference for the series: A_alpha = E_{x ~ N(0, s^2)}
// [((1 - q) + q exp((2x - 1) / (2 s^2)))^alpha].
double LogAByIntegration(double q, double sigma, double alpha) {
  const double lo = -30 * sigma;
  const double hi = alpha + 30 * sigma;
  const int steps = 2000000;
  const double h = (hi - lo) / steps;
  double sum = 0;
  for (int i = 0; i <= steps; ++i) {
    const double x = lo + i * h;
    const double density = std::exp(-x * x / (2 * sigma * sigma)) /
                           (sigma * std::sqrt(2 * std::numbers::pi));
    const double ratio = (1 - q) + q * std::exp((2 * x - 1) / (2 * sigma * sigma));
    const double f = density * std::pow(ratio, alpha);
    sum += (i == 0 || i == steps) ? f / 2 : f;
  }
  return std::log(sum * h);
}

TEST(SubsampledGaussianRdpTest, FractionalAndIntegerOrdersMatchIntegration) {
  struct Case {
    double q, sigma, alpha;
  };
  for (const Case& c : {Case{1e-4, 1.0, 1.5}, Case{0.01, 1.0, 2.75},
                        Case{0.1, 2.0, 3.5}, Case{0.5, 3.0, 7.25},
                        Case{0.1, 1.5, 6.0}, Case{0.05, 0.8, 4.0}}) {
    const double rdp = SubsampledGaussianRdp(c.q, c.sigma, c.alpha);
    const double reference =
        LogAByIntegration(c.q, c.sigma, c.alpha) / (c.alpha - 1);
    // Relative 1e-5, or the quadrature's own error where log A is tiny.
    EXPECT_NEAR(rdp, reference, 1e-5 * reference + 1e-12)
        << "q " << c.q << " sigma " << c.sigma << " alpha " << c.alpha;
  }
}

TEST(SubsampledGaussianRdpTest, EdgeCases) {
  EXPECT_EQ(SubsampledGaussianRdp(0.0, 1.0, 2.0), 0.0);
  EXPECT_EQ(SubsampledGaussianRdp(0.1, 0.0, 2.0), kInf);
  // Without sampling it is the Gaussian's alpha / (2 z^2).
  EXPECT_DOUBLE_EQ(SubsampledGaussianRdp(1.0, 2.0, 3.0), 3.0 / 8.0);
  // Sampling only ever helps.
  EXPECT_LT(SubsampledGaussianRdp(0.1, 2.0, 3.0), 3.0 / 8.0);
}

// Google's DP accounting tests, test_compute_epsilon_delta_pure_dp: a
// constant RDP of 1.1 over orders 2..32 is epsilon 1.32783806176 at
// delta 1e-5, attained at order 32 (also checkable by hand).
TEST(EpsilonFromRdpTest, PureDpMatchesThePublishedValue) {
  std::vector<double> orders;
  for (int a = 2; a <= 32; ++a) orders.push_back(a);
  const std::vector<double> rdp(orders.size(), 1.1);
  const EpsilonAtOrder e = EpsilonFromRdp(orders, rdp, 1e-5);
  EXPECT_NEAR(e.epsilon, 1.32783806176, 1e-9);
  EXPECT_EQ(e.order, 32);
}

// Google's DP accounting tests, test_compute_epsilon_delta_gaussian: the
// Gaussian mechanism with z = 4.530877117 is exactly (1, 1e-6)-DP, which
// RDP at the orders 1.001..99.999 recovers.
TEST(EpsilonFromRdpTest, GaussianCalibratedToEpsilonOne) {
  std::vector<double> orders;
  for (int i = 1001; i < 100000; ++i) orders.push_back(0.001 * i);
  RdpAccountant accountant(orders);
  accountant.ComposeSubsampledGaussian(1.0, 4.530877117, 1);
  EXPECT_NEAR(accountant.Epsilon(1e-6).epsilon, 1.0, 1e-6);
}

TEST(EpsilonFromRdpTest, NoNoiseIsInfiniteAndNoSamplingIsFree) {
  EXPECT_EQ(SubsampledGaussianEpsilon(0.1, 0.0, 1, 1e-5), kInf);
  EXPECT_EQ(SubsampledGaussianEpsilon(0.0, 1.0, 100, 1e-5), 0.0);
}

TEST(RdpAccountantTest, ComposesRoundsAdditively) {
  RdpAccountant once;
  once.ComposeSubsampledGaussian(0.1, 1.2, 1);
  RdpAccountant many;
  for (int i = 0; i < 7; ++i) many.ComposeSubsampledGaussian(0.1, 1.2, 1);
  RdpAccountant counted;
  counted.ComposeSubsampledGaussian(0.1, 1.2, 7);
  for (size_t i = 0; i < once.orders().size(); ++i) {
    EXPECT_NEAR(many.rdp()[i], 7 * once.rdp()[i], 1e-12 * many.rdp()[i]);
    EXPECT_DOUBLE_EQ(counted.rdp()[i], 7 * once.rdp()[i]);
  }
  EXPECT_GT(many.Epsilon(1e-5).epsilon, once.Epsilon(1e-5).epsilon);
}

TEST(NoiseMultiplierForEpsilonTest, FindsTheSmallestNoiseWithinTheBudget) {
  for (double target : {0.5, 2.0, 8.0}) {
    auto z = NoiseMultiplierForEpsilon(0.1, target, 60, 1e-5);
    ASSERT_TRUE(z.ok()) << z.status();
    EXPECT_LE(SubsampledGaussianEpsilon(0.1, *z, 60, 1e-5), target);
    EXPECT_GT(SubsampledGaussianEpsilon(0.1, *z * (1 - 2e-4), 60, 1e-5),
              target);
  }
}

TEST(NoiseMultiplierForEpsilonTest, RefusesWhatNoNoiseCanGive) {
  EXPECT_EQ(NoiseMultiplierForEpsilon(1.0, 1e-6, 1000000, 1e-9)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(NoiseMultiplierForEpsilon(0.0, 1.0, 10, 1e-5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NoiseMultiplierForEpsilon(0.1, 1.0, 0, 1e-5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NoiseMultiplierForEpsilon(0.1, -1.0, 10, 1e-5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NoiseMultiplierForEpsilon(0.1, 1.0, 10, 1.0).status().code(),
            absl::StatusCode::kInvalidArgument);
}


// With a large local deviation (tau ~ 0) the sum of n discrete Gaussians is
// as private as one continuous Gaussian of deviation sqrt(n) sigma:
// alpha l2^2 / (2 n sigma^2) (Kairouz et al. 2021, Proposition 14).
TEST(DistributedDiscreteGaussianTest, LargeNoiseMatchesTheContinuousGaussian) {
  const DistributedDiscreteGaussian m{.local_stddev = 50.0,
                                      .num_devices = 100,
                                      .l2_sensitivity = 400.0,
                                      .l1_sensitivity = 400.0 * 64,
                                      .dimension = 4096};
  for (double alpha : {2.0, 5.0, 32.0}) {
    EXPECT_NEAR(DistributedDiscreteGaussianRdp(m, alpha),
                alpha * 400.0 * 400.0 / (2 * 100 * 50.0 * 50.0), 1e-9);
  }
  // A fractional order takes the next integer's (larger) value.
  EXPECT_DOUBLE_EQ(DistributedDiscreteGaussianRdp(m, 4.5),
                   DistributedDiscreteGaussianRdp(m, 5.0));
}

TEST(DistributedDiscreteGaussianTest, SmallNoisePaysForTheDiscreteSum) {
  DistributedDiscreteGaussian m{.local_stddev = 0.3,
                                .num_devices = 10,
                                .l2_sensitivity = 1.0,
                                .l1_sensitivity = 8.0,
                                .dimension = 64};
  const double gaussian = 2.0 / (2 * 10 * 0.09);
  EXPECT_GT(DistributedDiscreteGaussianRdp(m, 2.0), gaussian);
  m.local_stddev = 0.0;
  EXPECT_EQ(DistributedDiscreteGaussianRdp(m, 2.0), kInf);
}

// Zhu and Wang's general bound, applied to the Gaussian, is an upper bound
// on the exact subsampled Gaussian analysis (the same sum with the terms
// from l = 3 on tripled, so at most log(3) / (alpha - 1) above it), below the
// unsampled mechanism, and the unsampled mechanism itself at q = 1.
TEST(SubsampledRdpTest, BoundsTheExactSubsampledGaussian) {
  const double z = 1.5;
  auto gaussian = [z](int64_t j) { return j / (2 * z * z); };
  for (double q : {0.01, 0.1, 0.5}) {
    for (int alpha = 2; alpha <= 40; alpha += 3) {
      const double general = SubsampledRdp(q, alpha, gaussian);
      EXPECT_GE(general, SubsampledGaussianRdp(q, z, alpha) * (1 - 1e-12))
          << q << " " << alpha;
      EXPECT_LE(general, gaussian(alpha));
      EXPECT_LE(general, SubsampledGaussianRdp(q, z, alpha) +
                             std::log(3.0) / (alpha - 1) + 1e-12);
    }
  }
  EXPECT_DOUBLE_EQ(SubsampledRdp(1.0, 7, gaussian), gaussian(7));
  EXPECT_EQ(SubsampledRdp(0.0, 7, gaussian), 0.0);
}

}  // namespace
}  // namespace cohort::privacy
