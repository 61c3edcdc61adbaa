#include "common/codec/encoder.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/codec/bit_packing.h"
#include "common/base/splitmix64.h"
#include "gtest/gtest.h"

namespace cohort::codec {
namespace {

std::vector<float> RandomVector(base::SplitMix64& rng, int64_t d, double norm) {
  std::vector<double> v(d);
  double sq = 0;
  for (double& x : v) {
    x = 2 * rng.NextDouble() - 1;
    sq += x * x;
  }
  std::vector<float> out(d);
  for (int64_t i = 0; i < d; ++i) out[i] = v[i] * norm / std::sqrt(sq);
  return out;
}

double Norm(absl::Span<const double> v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

TEST(StochasticRoundTest, IsUnbiased) {
  base::SplitMix64 rng(11);
  constexpr int kTrials = 200000;
  for (double x : {0.0, 0.3, -0.3, 2.75, -7.125, 1e6 + 0.9, -0.999}) {
    double sum = 0;
    for (int i = 0; i < kTrials; ++i) {
      const int64_t r = StochasticRound(x, rng.NextDouble());
      ASSERT_TRUE(r == std::floor(x) || r == std::floor(x) + 1);
      sum += r - std::floor(x);
    }
    const double frac = x - std::floor(x);
    // Bernoulli(frac) mean; 6 sigma (sigma <= 0.5 / sqrt(n)) plus slack.
    EXPECT_NEAR(sum / kTrials, frac, 6 * 0.5 / std::sqrt(kTrials) + 1e-12)
        << "x=" << x;
  }
}

TEST(ClipTest, ClipsLongVectorsAndKeepsShortOnes) {
  base::SplitMix64 rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    const double norm = 4 * rng.NextDouble();
    auto f = RandomVector(rng, 1 + trial, norm);
    std::vector<double> x(f.begin(), f.end());
    const std::vector<double> orig = x;
    ClipToNorm(absl::MakeSpan(x), 1.5);
    if (Norm(orig) <= 1.5) {
      EXPECT_EQ(x, orig);
    } else {
      EXPECT_LE(Norm(x), 1.5 * (1 + 1e-12));
      EXPECT_NEAR(Norm(x), 1.5, 1e-9);
      // Direction is preserved.
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_NEAR(x[i] * Norm(orig) / 1.5, orig[i], 1e-9);
      }
    }
  }
}

TEST(EncoderTest, SingleVectorErrorWithinBound) {
  base::SplitMix64 rng(21);
  for (bool rotate : {false, true}) {
    for (int64_t d : {1, 10, 100, 1000}) {
      for (double scale : {10.0, 1000.0, 1e6}) {
        EncodingParams p{2.0, rotate, 77, scale, 0};
        p.bits = *ChooseBits(p.clip_norm, scale, 1);
        auto enc = Encoder::Create(p, d);
        ASSERT_TRUE(enc.ok()) << enc.status();
        auto x = RandomVector(rng, d, 1.9);  // within the clip
        auto e = enc->Encode(x, [&] { return rng.NextDouble(); });
        ASSERT_TRUE(e.ok());
        ASSERT_EQ(static_cast<int64_t>(e->size()), enc->encoded_dimension());
        auto dec = enc->DecodeSum(*e);
        ASSERT_TRUE(dec.ok());
        ASSERT_EQ(static_cast<int64_t>(dec->size()), d);
        // Documented bound: 1/scale per coordinate, sqrt(D)/scale in L2 with
        // rotation.
        const double bound =
            rotate ? std::sqrt(static_cast<double>(enc->encoded_dimension())) /
                         scale
                   : 1.0 / scale;
        std::vector<double> err(d);
        for (int64_t i = 0; i < d; ++i) {
          err[i] = (*dec)[i] - static_cast<double>(x[i]);
          EXPECT_LE(std::abs(err[i]), bound * (1 + 1e-9) + 1e-12);
        }
        if (rotate) {
          EXPECT_LE(Norm(err), bound * (1 + 1e-9) + 1e-12);
        }
      }
    }
  }
}

TEST(EncoderTest, ModularSumDecodesToFloatSum) {
  base::SplitMix64 rng(99);
  for (bool rotate : {false, true}) {
    for (int64_t n : {1, 10, 100}) {
      for (double scale : {1.0, 100.0, 65536.0}) {
        const int64_t d = 37;
        EncodingParams p{1.0, rotate, 5, scale, 0};
        auto chosen = ChooseBits(p.clip_norm, scale, n);
        ASSERT_TRUE(chosen.ok());
        for (int bits : {*chosen, *chosen + 5, 62}) {
          p.bits = bits;
          auto enc = Encoder::Create(p, d);
          ASSERT_TRUE(enc.ok());
          std::vector<uint64_t> sum(enc->encoded_dimension(), 0);
          std::vector<double> plain(d, 0.0);
          for (int64_t c = 0; c < n; ++c) {
            // Half the vectors exceed the clip, so clipping is exercised.
            auto x = RandomVector(rng, d, 2 * rng.NextDouble());
            std::vector<double> clipped(x.begin(), x.end());
            ClipToNorm(absl::MakeSpan(clipped), p.clip_norm);
            for (int64_t i = 0; i < d; ++i) plain[i] += clipped[i];
            auto e = enc->Encode(x, [&] { return rng.NextDouble(); });
            ASSERT_TRUE(e.ok());
            ASSERT_TRUE(ModularAdd(absl::MakeSpan(sum), *e, bits).ok());
          }
          auto dec = enc->DecodeSum(sum);
          ASSERT_TRUE(dec.ok());
          const double bound =
              n * (rotate ? std::sqrt(static_cast<double>(
                                enc->encoded_dimension()))
                          : 1.0) / scale;
          for (int64_t i = 0; i < d; ++i) {
            EXPECT_LE(std::abs((*dec)[i] - plain[i]), bound * (1 + 1e-9))
                << "n=" << n << " scale=" << scale << " bits=" << bits
                << " rotate=" << rotate;
          }
        }
      }
    }
  }
}

TEST(EncoderTest, EncodeAndPackMatchesEncodeThenPack) {
  base::SplitMix64 a(1), b(1), data(2);
  auto enc = Encoder::Create({1.0, true, 3, 1000.0, 13}, 50);
  ASSERT_TRUE(enc.ok());
  auto x = RandomVector(data, 50, 0.7);
  auto packed = enc->EncodeAndPack(x, [&] { return a.NextDouble(); });
  auto plain = enc->Encode(x, [&] { return b.NextDouble(); });
  ASSERT_TRUE(packed.ok() && plain.ok());
  auto unpacked = UnpackBits(*packed, enc->encoded_dimension(), 13);
  ASSERT_TRUE(unpacked.ok());
  EXPECT_EQ(*unpacked, *plain);
}

TEST(EncoderTest, RejectsBadInput) {
  EXPECT_EQ(Encoder::Create({1.0, false, 0, 1.0, 0}, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Encoder::Create({1.0, false, 0, 1.0, 63}, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Encoder::Create({1.0, false, 0, 1.0, 8}, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto enc = Encoder::Create({1.0, false, 0, 1.0, 8}, 3);
  ASSERT_TRUE(enc.ok());
  auto u = [] { return 0.5; };
  EXPECT_EQ(enc->Encode(std::vector<float>{1, 2}, u).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(enc->Encode(std::vector<float>{1, NAN, 2}, u).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(enc->DecodeSum(std::vector<uint64_t>{1, 256, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint64_t> a = {1, 2};
  EXPECT_EQ(ModularAdd(absl::MakeSpan(a), std::vector<uint64_t>{1}, 8).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ModularAddTest, WrapsModuloTwoToTheBits) {
  std::vector<uint64_t> a = {255, 128, 0};
  ASSERT_TRUE(ModularAdd(absl::MakeSpan(a), std::vector<uint64_t>{1, 128, 7}, 8).ok());
  EXPECT_EQ(a, (std::vector<uint64_t>{0, 0, 7}));
}

}  // namespace
}  // namespace cohort::codec
