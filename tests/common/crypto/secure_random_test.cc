#include "common/crypto/secure_random.h"

#include <array>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/fake_random.h"

namespace cohort::crypto {
namespace {

using ::cohort::testing::FakeRandom;

TEST(OpenSslRandomTest, FillProducesDistinctNonZeroOutput) {
  OpenSslRandom random;
  std::array<uint8_t, 32> a{}, b{};
  ASSERT_TRUE(random.Fill(absl::MakeSpan(a)).ok());
  ASSERT_TRUE(random.Fill(absl::MakeSpan(b)).ok());
  // Each fails with probability 2^-256.
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<uint8_t, 32>{}));
}

TEST(OpenSslRandomTest, FillEmptySpanIsOk) {
  OpenSslRandom random;
  EXPECT_TRUE(random.Fill(absl::Span<uint8_t>()).ok());
}

TEST(OpenSslRandomTest, LargeFillLooksUniform) {
  OpenSslRandom random;
  std::vector<uint8_t> buf(1 << 16);
  ASSERT_TRUE(random.Fill(absl::MakeSpan(buf)).ok());
  size_t ones = 0;
  for (uint8_t b : buf) ones += __builtin_popcount(b);
  // 2^19 fair bits: mean 2^18, sd 362; 10 sd is never reached by chance.
  EXPECT_NEAR(static_cast<double>(ones), 262144.0, 3620.0);
}

TEST(FakeRandomTest, SameSeedSameStream) {
  FakeRandom a(7), b(7);
  std::vector<uint8_t> x(100), y(100);
  ASSERT_TRUE(a.Fill(absl::MakeSpan(x)).ok());
  // Split reads must yield the same stream as one read.
  ASSERT_TRUE(b.Fill(absl::MakeSpan(y).subspan(0, 33)).ok());
  ASSERT_TRUE(b.Fill(absl::MakeSpan(y).subspan(33)).ok());
  EXPECT_EQ(x, y);
}

TEST(FakeRandomTest, DifferentSeedsDiffer) {
  FakeRandom a(1), b(2);
  std::array<uint8_t, 32> x{}, y{};
  ASSERT_TRUE(a.Fill(absl::MakeSpan(x)).ok());
  ASSERT_TRUE(b.Fill(absl::MakeSpan(y)).ok());
  EXPECT_NE(x, y);
}

TEST(FakeRandomTest, InjectedFailureIsReportedOnce) {
  FakeRandom random(3);
  random.FailNextFill();
  std::array<uint8_t, 4> buf{};
  EXPECT_EQ(random.Fill(absl::MakeSpan(buf)).code(),
            absl::StatusCode::kInternal);
  EXPECT_TRUE(random.Fill(absl::MakeSpan(buf)).ok());
}

}  // namespace
}  // namespace cohort::crypto
