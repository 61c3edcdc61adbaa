#include "common/codec/encoding_params.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/codec/encoder.h"
#include "common/base/splitmix64.h"
#include "gtest/gtest.h"

namespace cohort::codec {
namespace {

// Decodes the integer sum of n copies of v at `bits` the way DecodeSum does.
int64_t WrapAndDecode(int64_t v, int64_t n, int bits) {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  uint64_t acc = 0;
  for (int64_t i = 0; i < n; ++i) acc = (acc + (static_cast<uint64_t>(v) & mask)) & mask;
  const uint64_t half = uint64_t{1} << (bits - 1);
  return acc >= half ? static_cast<int64_t>(acc) - static_cast<int64_t>(mask + 1)
                     : static_cast<int64_t>(acc);
}

TEST(ChooseBitsTest, WorstCaseFitsAtChosenBitsButNotOneFewer) {
  for (double clip : {0.5, 1.0, 3.0}) {
    for (double scale : {1.0, 7.0, 1000.0, 65536.0}) {
      for (int64_t n : {1, 2, 10, 100, 1000}) {
        auto bits = ChooseBits(clip, scale, n);
        ASSERT_TRUE(bits.ok()) << bits.status();
        const int64_t m = MaxAbsEncodedValue(clip, scale);
        EXPECT_EQ(WrapAndDecode(m, n, *bits), n * m);
        EXPECT_EQ(WrapAndDecode(-m, n, *bits), -n * m);
        if (*bits > 1) {
          EXPECT_NE(WrapAndDecode(m, n, *bits - 1), n * m)
              << "clip=" << clip << " scale=" << scale << " n=" << n;
        }
      }
    }
  }
}

TEST(ChooseBitsTest, FloatWorstCaseDecodesThroughEncoder) {
  // One coordinate at +-clip (the L2 norm), the rest zero: the largest a
  // coordinate can get. Every summand pushes the same direction.
  int checked_failures = 0;
  for (double scale : {3.0, 6.0, 100.0}) {
    for (int64_t n : {1, 10, 100}) {
      for (double sign : {1.0, -1.0}) {
        auto bits = ChooseBits(1.0, scale, n);
        ASSERT_TRUE(bits.ok());
        std::vector<float> x = {static_cast<float>(sign), 0.0f, 0.0f};
        for (int b : {*bits, *bits - 1}) {
          auto enc = Encoder::Create({1.0, false, 0, scale, b}, 3);
          ASSERT_TRUE(enc.ok());
          base::SplitMix64 rng(n);
          std::vector<uint64_t> sum(3, 0);
          for (int64_t i = 0; i < n; ++i) {
            auto e = enc->Encode(x, [&] { return rng.NextDouble(); });
            ASSERT_TRUE(e.ok());
            ASSERT_TRUE(ModularAdd(absl::MakeSpan(sum), *e, b).ok());
          }
          auto dec = enc->DecodeSum(sum);
          ASSERT_TRUE(dec.ok());
          const bool correct =
              std::abs((*dec)[0] - sign * n) <= n / scale + 1e-9;
          if (b == *bits) {
            EXPECT_TRUE(correct) << "scale=" << scale << " n=" << n;
          } else if (n * std::ceil(scale) >= std::ldexp(1.0, b - 1)) {
            // Positive sum n*scale >= 2^(b-1) cannot be represented.
            if (sign > 0) {
              EXPECT_FALSE(correct) << "scale=" << scale << " n=" << n;
              ++checked_failures;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked_failures, 0);
}

TEST(ChooseBitsTest, RejectsBadInputsAndOverflow) {
  EXPECT_EQ(ChooseBits(0, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseBits(1, -1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseBits(1, 1, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseBits(1, NAN, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseBits(1, 1e15, 1e6).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto b = ChooseBits(1, 1e15, 1);  // 2^49.8 * 2 fits
  ASSERT_TRUE(b.ok());
  EXPECT_LE(*b, 62);
}

TEST(ChooseBitsTest, MonotoneInSummandsAndScale) {
  int prev = 0;
  for (int64_t n = 1; n <= (1 << 20); n *= 2) {
    auto b = ChooseBits(1.0, 1 << 10, n);
    ASSERT_TRUE(b.ok());
    EXPECT_GE(*b, prev);
    prev = *b;
  }
  EXPECT_LT(*ChooseBits(1.0, 10, 100), *ChooseBits(1.0, 10000, 100));
}

}  // namespace
}  // namespace cohort::codec
