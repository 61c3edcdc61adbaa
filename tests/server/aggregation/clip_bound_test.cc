#include "server/aggregation/clip_bound.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::server {
namespace {

ClippingOptions Adaptive() {
  ClippingOptions o;
  o.clip_norm = 1.0;
  o.adaptive = true;
  o.target_quantile = 0.5;
  o.learning_rate = 0.2;
  return o;
}

TEST(ClipBoundTest, FixedNeverMoves) {
  ClippingOptions o;
  o.clip_norm = 3.5;
  ClipBound bound(o);
  EXPECT_EQ(bound.Next(1.0), 3.5);
  EXPECT_EQ(bound.Next(0.0), 3.5);
  ASSERT_TRUE(bound.Set(7.0).ok());
  EXPECT_EQ(bound.current(), 3.5);
}

TEST(ClipBoundTest, AdaptiveStepIsTheGeometricUpdate) {
  ClipBound bound(Adaptive());
  // 80% clipped: 20% unclipped, below the target 50%, so C grows by
  // exp(0.2 * 0.3).
  EXPECT_DOUBLE_EQ(bound.Next(0.8), std::exp(0.06));
  // Nothing clipped: C shrinks by exp(-0.2 * 0.5).
  EXPECT_DOUBLE_EQ(bound.Next(0.0), std::exp(-0.1));
  // Exactly at the target: unchanged.
  EXPECT_DOUBLE_EQ(bound.Next(0.5), 1.0);
  // Nothing aggregated, or a forged count: unchanged.
  EXPECT_EQ(bound.Next(std::numeric_limits<double>::quiet_NaN()), 1.0);
  EXPECT_EQ(bound.Next(1.5), 1.0);
  EXPECT_EQ(bound.Next(-0.5), 1.0);
}

TEST(ClipBoundTest, AdaptiveStaysWithinItsBounds) {
  ClippingOptions o = Adaptive();
  o.min_clip_norm = 0.95;
  o.max_clip_norm = 1.05;
  ClipBound bound(o);
  EXPECT_EQ(bound.Next(0.0), 0.95);
  EXPECT_EQ(bound.Next(1.0), 1.05);
}

// The bound after `rounds` rounds over the same update norms.
double Settle(const ClippingOptions& o, const std::vector<double>& norms,
              int rounds) {
  ClipBound bound(o);
  for (int round = 0; round < rounds; ++round) {
    const double c = bound.current();
    const auto clipped = std::count_if(norms.begin(), norms.end(),
                                       [c](double n) { return n > c; });
    EXPECT_TRUE(bound.Set(bound.Next(static_cast<double>(clipped) /
                                     static_cast<double>(norms.size())))
                    .ok());
  }
  return bound.current();
}

// Update norms spread uniformly over [0, 4]: the bound settles near their
// median, 2, from a first bound far below and far above it, and near the
// 0.9-quantile, 3.6, when that is the target.
TEST(ClipBoundTest, AdaptiveSettlesAtTheTargetQuantile) {
  std::vector<double> norms;
  for (int i = 0; i < 1000; ++i) norms.push_back(4.0 * (i + 0.5) / 1000);
  for (double start : {0.01, 100.0}) {
    ClippingOptions o = Adaptive();
    o.clip_norm = start;
    EXPECT_NEAR(Settle(o, norms, 300), 2.0, 0.05) << "from " << start;
  }
  ClippingOptions o = Adaptive();
  o.target_quantile = 0.9;
  EXPECT_NEAR(Settle(o, norms, 300), 3.6, 0.05);
}

TEST(ClipBoundTest, SetClampsStoredValuesAndRefusesNonsense) {
  ClipBound bound(Adaptive());
  ASSERT_TRUE(bound.Set(2.5).ok());
  EXPECT_EQ(bound.current(), 2.5);
  // Stored under wider limits: brought inside these.
  ASSERT_TRUE(bound.Set(1e7).ok());
  EXPECT_EQ(bound.current(), 1e6);
  ASSERT_TRUE(bound.Set(1e-9).ok());
  EXPECT_EQ(bound.current(), 1e-3);
  for (double bad : {-1.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    ASSERT_TRUE(bound.Set(2.5).ok());
    EXPECT_EQ(bound.Set(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(bound.current(), 1.0) << "starts over after " << bad;
  }
  ASSERT_TRUE(bound.Set(2.5).ok());
  ASSERT_TRUE(bound.Set(0.0).ok());
  EXPECT_EQ(bound.current(), 1.0);
}

}  // namespace
}  // namespace cohort::server
