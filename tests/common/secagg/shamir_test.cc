#include "common/secagg/shamir.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "common/codec/splitmix64.h"
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
  codec::SplitMix64& rng() { return rng_; }

 private:
  codec::SplitMix64 rng_;
};

std::array<uint8_t, 32> RandomSecret(codec::SplitMix64& rng) {
  std::array<uint8_t, 32> s;
  for (auto& b : s) b = static_cast<uint8_t>(rng.Next());
  return s;
}

std::vector<ShamirShare> RandomSubset(const std::vector<ShamirShare>& all,
                                      int size, codec::SplitMix64& rng) {
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
