#include "common/codec/hadamard.h"

#include <cmath>
#include <vector>

#include "common/base/splitmix64.h"
#include "gtest/gtest.h"

namespace cohort::codec {
namespace {

double Norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

std::vector<double> RandomVector(base::SplitMix64& rng, int64_t d) {
  std::vector<double> v(d);
  for (double& x : v) x = 2 * rng.NextDouble() - 1;
  return v;
}

TEST(HadamardTest, NextPowerOfTwo) {
  EXPECT_EQ(NextPowerOfTwo(1), 1);
  EXPECT_EQ(NextPowerOfTwo(2), 2);
  EXPECT_EQ(NextPowerOfTwo(3), 4);
  EXPECT_EQ(NextPowerOfTwo(1000), 1024);
  EXPECT_EQ(NextPowerOfTwo(1024), 1024);
}

TEST(HadamardTest, RotationIsIsometryAndInverts) {
  base::SplitMix64 rng(7);
  for (int64_t d : {1, 2, 3, 5, 64, 100, 1000, 4097}) {
    for (uint64_t seed : {0u, 1u, 99u}) {
      RandomizedHadamard r(d, seed);
      EXPECT_EQ(r.padded_dimension(), NextPowerOfTwo(d));
      auto x = RandomVector(rng, d);
      auto y = r.Rotate(x);
      ASSERT_EQ(static_cast<int64_t>(y.size()), r.padded_dimension());
      EXPECT_NEAR(Norm(y), Norm(x), 1e-9 * (1 + Norm(x)));
      auto back = r.InverseRotate(y);
      ASSERT_EQ(static_cast<int64_t>(back.size()), d);
      for (int64_t i = 0; i < d; ++i) EXPECT_NEAR(back[i], x[i], 1e-9);
    }
  }
}

TEST(HadamardTest, SpreadsASpikeAndDependsOnSeed) {
  std::vector<double> spike(256, 0.0);
  spike[3] = 1.0;
  auto a = RandomizedHadamard(256, 1).Rotate(spike);
  auto b = RandomizedHadamard(256, 2).Rotate(spike);
  for (double v : a) EXPECT_NEAR(std::abs(v), 1.0 / 16, 1e-12);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, RandomizedHadamard(256, 1).Rotate(spike));
}

TEST(HadamardTest, TransformIsItsOwnInverse) {
  base::SplitMix64 rng(3);
  auto x = RandomVector(rng, 512);
  auto y = x;
  NormalizedWalshHadamard(absl::MakeSpan(y));
  NormalizedWalshHadamard(absl::MakeSpan(y));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], x[i], 1e-12);
}

}  // namespace
}  // namespace cohort::codec
