#include "common/secagg/shamir.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "common/base/splitmix64.h"
#include "gtest/gtest.h"

namespace cohort::secagg {
namespace {

// Deterministic stand-in for the CSPRNG.
class FakeRandom {
 public:
  explicit FakeRandom(uint64_t seed) : rng_(seed) {}
  absl::Status Fill(absl::Span<uint8_t> out) {
    for (auto& b : out) b = static_cast<uint8_t>(rng_.Next());
    return absl::OkStatus();
  }
  base::SplitMix64& rng() { return rng_; }

 private:
  base::SplitMix64 rng_;
};

std::array<uint8_t, 32> RandomSecret(base::SplitMix64& rng) {
  std::array<uint8_t, 32> s;
  for (auto& b : s) b = static_cast<uint8_t>(rng.Next());
  return s;
}

std::vector<ShamirShare> RandomSubset(const std::vector<ShamirShare>& all,
                                      int size, base::SplitMix64& rng) {
  std::vector<ShamirShare> v = all;
  for (size_t i = v.size() - 1; i > 0; --i) std::swap(v[i], v[rng.Uniform(i + 1)]);
  v.resize(size);
  return v;
}

TEST(ShamirTest, AnyTSharesReconstructAndTMinusOneDoNot) {
  FakeRandom fake(1);
  auto fill = [&](absl::Span<uint8_t> b) { return fake.Fill(b); };
  for (auto [t, n] : std::vector<std::pair<int, int>>{
           {1, 1}, {1, 5}, {2, 2}, {2, 3}, {3, 5}, {5, 5}, {10, 20}, {34, 60}}) {
    for (int trial = 0; trial < 5; ++trial) {
      const auto secret = RandomSecret(fake.rng());
      auto shares = ShamirSecretSharing::Share(secret, t, n, fill);
      ASSERT_TRUE(shares.ok()) << shares.status();
      ASSERT_EQ(static_cast<int>(shares->size()), n);
      for (int size : {t, n}) {
        auto subset = RandomSubset(*shares, size, fake.rng());
        auto got = ShamirSecretSharing::Reconstruct(subset, t);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(*got, secret) << "t=" << t << " n=" << n;
      }
      if (t > 1) {
        auto subset = RandomSubset(*shares, t - 1, fake.rng());
        auto interp = InterpolateAtZero(subset);
        ASSERT_TRUE(interp.ok());
        EXPECT_NE(*interp, *FieldElement::FromSecretBytes(secret));
        EXPECT_EQ(ShamirSecretSharing::Reconstruct(subset, t).status().code(),
                  absl::StatusCode::kInvalidArgument);
      }
    }
  }
}

// The coefficients interpolate every polynomial of degree < t exactly: the
// constant 1 (coefficients sum to 1) and random polynomials, at arbitrary
// point sets; and they agree with InterpolateAtZero.
TEST(LagrangeAtZeroTest, InterpolatesLowDegreePolynomialsAtArbitraryPoints) {
  base::SplitMix64 rng(11);
  for (int t : {1, 2, 3, 17, 60, 200}) {
    std::vector<uint32_t> xs;
    while (static_cast<int>(xs.size()) < t) {
      const uint32_t x = 1 + static_cast<uint32_t>(rng.Uniform(3 * t + 5));
      if (std::find(xs.begin(), xs.end(), x) == xs.end()) xs.push_back(x);
    }
    auto lagrange = LagrangeAtZero::Create(xs);
    ASSERT_TRUE(lagrange.ok()) << lagrange.status();
    FieldElement sum;
    for (const FieldElement& c : lagrange->coefficients()) sum = sum + c;
    EXPECT_EQ(sum, FieldElement::One()) << t;
    std::vector<FieldElement> poly(t);
    for (auto& c : poly) {
      FieldElement::Limbs l{rng.Next(), rng.Next(), rng.Next(), rng.Next(), 0};
      c = FieldElement::FromLimbsReduced(l);
    }
    std::vector<FieldElement> ys;
    std::vector<ShamirShare> shares;
    for (uint32_t x : xs) {
      FieldElement y;
      for (size_t i = poly.size(); i-- > 0;) y = y * FieldElement(x) + poly[i];
      ys.push_back(y);
      shares.push_back({x, y});
    }
    EXPECT_EQ(lagrange->Interpolate(ys), poly[0]) << t;
    auto direct = InterpolateAtZero(shares);
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ(*direct, poly[0]) << t;
  }
}

TEST(LagrangeAtZeroTest, RejectsBadPointSets) {
  EXPECT_EQ(LagrangeAtZero::Create({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LagrangeAtZero::Create({1, 0, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LagrangeAtZero::Create({3, 1, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BatchInvertTest, MatchesOneInversionPerElement) {
  base::SplitMix64 rng(12);
  std::vector<FieldElement> values;
  for (int i = 0; i < 50; ++i) {
    FieldElement::Limbs l{rng.Next(), rng.Next(), rng.Next(), rng.Next(), 0};
    values.push_back(FieldElement::FromLimbsReduced(l) + FieldElement::One());
  }
  values.push_back(FieldElement::Zero() - FieldElement::One());
  std::vector<FieldElement> inverted = values;
  BatchInvert(absl::MakeSpan(inverted));
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(inverted[i], values[i].Inverse()) << i;
    EXPECT_EQ(inverted[i] * values[i], FieldElement::One()) << i;
  }
  std::vector<FieldElement> none;
  BatchInvert(absl::MakeSpan(none));  // no-op
}

TEST(ShamirTest, EdgeSecretsRoundTrip) {
  FakeRandom fake(2);
  auto fill = [&](absl::Span<uint8_t> b) { return fake.Fill(b); };
  std::array<uint8_t, 32> zeros{}, ones;
  ones.fill(0xFF);
  for (const auto& secret : {zeros, ones}) {
    auto shares = ShamirSecretSharing::Share(secret, 3, 4, fill);
    ASSERT_TRUE(shares.ok());
    auto got = ShamirSecretSharing::Reconstruct(*shares, 3);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, secret);
  }
}

TEST(ShamirTest, RejectsBadArguments) {
  FakeRandom fake(3);
  auto fill = [&](absl::Span<uint8_t> b) { return fake.Fill(b); };
  std::array<uint8_t, 32> secret{};
  EXPECT_EQ(ShamirSecretSharing::Share(secret, 0, 3, fill).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShamirSecretSharing::Share(secret, 4, 3, fill).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShamirSecretSharing::Share(std::vector<uint8_t>(31), 2, 3, fill)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto shares = ShamirSecretSharing::Share(secret, 2, 3, fill);
  ASSERT_TRUE(shares.ok());
  EXPECT_EQ(ShamirSecretSharing::Reconstruct(*shares, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<ShamirShare> dup = {(*shares)[0], (*shares)[0]};
  EXPECT_EQ(ShamirSecretSharing::Reconstruct(dup, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<ShamirShare> zero = {(*shares)[0], (*shares)[1]};
  zero[1].x = 0;
  EXPECT_EQ(ShamirSecretSharing::Reconstruct(zero, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ShamirTest, PropagatesRandomnessFailure) {
  auto broken = [](absl::Span<uint8_t>) {
    return absl::UnavailableError("entropy gone");
  };
  std::array<uint8_t, 32> secret{};
  EXPECT_EQ(ShamirSecretSharing::Share(secret, 2, 3, broken).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ShamirTest, RandomFieldElementIsBelowPrimeAndVaries) {
  FakeRandom fake(4);
  auto fill = [&](absl::Span<uint8_t> b) { return fake.Fill(b); };
  int high = 0;
  FieldElement prev;
  for (int i = 0; i < 200; ++i) {
    auto e = RandomFieldElement(fill);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(FieldElement::FromBytes(e->ToBytes()).ok());
    EXPECT_NE(*e, prev);
    prev = *e;
    high += e->limbs()[4] != 0;
  }
  // Values >= 2^256 are a tiny sliver of the field (297 of p values).
  EXPECT_LE(high, 1);
}

}  // namespace
}  // namespace cohort::secagg
