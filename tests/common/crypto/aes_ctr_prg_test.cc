#include "common/crypto/aes_ctr_prg.h"

#include <openssl/evp.h>

#include <array>
#include <cmath>
#include <memory>
#include <string_view>
#include <vector>

#include "common/crypto/hex.h"
#include "gtest/gtest.h"

namespace cohort::crypto {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  return HexToBytes(hex).value();
}

std::vector<uint8_t> Seed(uint8_t first) {
  std::vector<uint8_t> seed(kAesCtrPrgSeedSize);
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = first + i;
  return seed;
}

// Independent reference: one AES-256 block encryption via ECB.
std::vector<uint8_t> AesEcbBlock(const std::vector<uint8_t>& key,
                                 const std::vector<uint8_t>& block) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(
      EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::vector<uint8_t> out(16);
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ecb(), nullptr,
                               key.data(), nullptr),
            1);
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), out.data(), &len, block.data(), 16),
            1);
  EXPECT_EQ(len, 16);
  return out;
}

TEST(AesCtrPrgTest, ReferenceMatchesFips197) {
  // FIPS-197 appendix C.3 (AES-256).
  EXPECT_EQ(
      BytesToHex(AesEcbBlock(Seed(0), Hex("00112233445566778899aabbccddeeff"))),
      "8ea2b7ca516745bfeafc49904b496089");
}

TEST(AesCtrPrgTest, KeystreamIsAesOfBigEndianCounter) {
  const auto seed = Seed(0);
  auto stream = ExpandSeedToBytes(seed, 16 * 258);
  ASSERT_TRUE(stream.ok()) << stream.status();
  for (int counter : {0, 1, 2, 255, 256, 257}) {
    std::vector<uint8_t> block(16, 0);
    block[15] = counter & 0xff;
    block[14] = (counter >> 8) & 0xff;
    std::vector<uint8_t> got(stream->begin() + 16 * counter,
                             stream->begin() + 16 * (counter + 1));
    EXPECT_EQ(BytesToHex(got), BytesToHex(AesEcbBlock(seed, block)))
        << "counter " << counter;
  }
}

TEST(AesCtrPrgTest, DeterministicAndIndependentOfCallSizes) {
  const auto seed = Seed(7);
  auto once = ExpandSeedToBytes(seed, 200000);
  ASSERT_TRUE(once.ok());
  auto prg = AesCtrPrg::Create(seed);
  ASSERT_TRUE(prg.ok());
  std::vector<uint8_t> pieces(200000);
  size_t off = 0;
  for (size_t step : {1u, 15u, 17u, 65536u, 3u, 70000u}) {
    ASSERT_TRUE(prg->Fill(absl::MakeSpan(pieces).subspan(off, step)).ok());
    off += step;
  }
  ASSERT_TRUE(prg->Fill(absl::MakeSpan(pieces).subspan(off)).ok());
  EXPECT_EQ(pieces, *once);
  auto again = ExpandSeedToBytes(seed, 200000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *once);
}

TEST(AesCtrPrgTest, DifferentSeedsDiffer) {
  auto a = ExpandSeedToBytes(Seed(1), 64);
  auto b = ExpandSeedToBytes(Seed(2), 64);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  auto c = ExpandSeedModPow2(Seed(1), 100, 16);
  auto d = ExpandSeedModPow2(Seed(2), 100, 16);
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_NE(*c, *d);
}

// Element j must be the little-endian integer of bytes [w*j, w*j+w), masked,
// across chunk boundaries, for every width.
TEST(AesCtrPrgTest, ModPow2MatchesDocumentedByteLayout) {
  const auto seed = Seed(3);
  const size_t num = 70000;  // spans several 64 KiB chunks for every width
  auto bytes = ExpandSeedToBytes(seed, num * 8);
  ASSERT_TRUE(bytes.ok());
  for (int bits = 1; bits <= 64; ++bits) {
    auto values = ExpandSeedModPow2(seed, num, bits);
    ASSERT_TRUE(values.ok()) << values.status();
    ASSERT_EQ(values->size(), num);
    const int w = (bits + 7) / 8;
    const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    for (size_t j = 0; j < num; j += 997) {
      uint64_t expected = 0;
      for (int k = w - 1; k >= 0; --k) {
        expected = (expected << 8) | (*bytes)[w * j + k];
      }
      ASSERT_EQ((*values)[j], expected & mask) << "bits " << bits << " j " << j;
    }
    if (bits < 64) {
      for (uint64_t v : *values) ASSERT_LT(v, uint64_t{1} << bits);
    }
  }
}

TEST(AesCtrPrgTest, StreamContinuesAcrossModPow2Calls) {
  auto prg = AesCtrPrg::Create(Seed(4));
  ASSERT_TRUE(prg.ok());
  auto first = prg->NextModPow2(10, 16);
  auto second = prg->NextModPow2(10, 16);
  auto all = ExpandSeedModPow2(Seed(4), 20, 16);
  ASSERT_TRUE(first.ok() && second.ok() && all.ok());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ((*first)[i], (*all)[i]);
    EXPECT_EQ((*second)[i], (*all)[10 + i]);
  }
}

TEST(AesCtrPrgTest, SpanOutputMatchesVectorOutput) {
  auto expected = ExpandSeedModPow2(Seed(5), 100000, 20);
  ASSERT_TRUE(expected.ok());
  auto prg = AesCtrPrg::Create(Seed(5));
  ASSERT_TRUE(prg.ok());
  std::vector<uint64_t> out(100000, 0xdeadbeef);
  ASSERT_TRUE(prg->NextModPow2(20, absl::MakeSpan(out)).ok());
  EXPECT_EQ(out, *expected);
}

// Adding a mask, then subtracting the same mask, restores the input; and
// adding equals the plain modular sum with the expanded vector.
TEST(AesCtrPrgTest, AddThenSubtractCancels) {
  for (int bits : {1, 7, 16, 33, 64}) {
    const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    auto input = ExpandSeedModPow2(Seed(100), 50000, bits);
    auto masks = ExpandSeedModPow2(Seed(6), 50000, bits);
    ASSERT_TRUE(input.ok() && masks.ok());
    std::vector<uint64_t> acc = *input;
    auto adder = AesCtrPrg::Create(Seed(6));
    ASSERT_TRUE(adder.ok());
    ASSERT_TRUE(adder->AddModPow2(bits, absl::MakeSpan(acc)).ok());
    for (size_t j = 0; j < acc.size(); j += 101) {
      ASSERT_EQ(acc[j], ((*input)[j] + (*masks)[j]) & mask) << bits;
    }
    EXPECT_NE(acc, *input);
    auto subtractor = AesCtrPrg::Create(Seed(6));
    ASSERT_TRUE(subtractor.ok());
    ASSERT_TRUE(subtractor->SubtractModPow2(bits, absl::MakeSpan(acc)).ok());
    EXPECT_EQ(acc, *input) << bits;
  }
}

// Chi-square goodness of fit over 2^bits bins. With deterministic seeds this
// cannot flake; the bound is about 6 standard deviations above the mean.
double ChiSquare(const std::vector<uint64_t>& values, int bits) {
  std::vector<double> counts(size_t{1} << bits, 0.0);
  for (uint64_t v : values) counts[v] += 1;
  const double expected = static_cast<double>(values.size()) / counts.size();
  double chi = 0;
  for (double c : counts) chi += (c - expected) * (c - expected) / expected;
  return chi;
}

TEST(AesCtrPrgTest, LowBitsLookUniform) {
  for (int bits : {1, 4, 8, 11}) {
    const size_t bins = size_t{1} << bits;
    auto values =
        ExpandSeedModPow2(Seed(static_cast<uint8_t>(bits)), bins * 500, bits);
    ASSERT_TRUE(values.ok());
    const double df = bins - 1;
    const double chi = ChiSquare(*values, bits);
    EXPECT_LT(chi, df + 6 * std::sqrt(2 * df) + 10) << "bits " << bits;
    EXPECT_GT(chi, df - 6 * std::sqrt(2 * df) - 10) << "bits " << bits;
  }
}

TEST(AesCtrPrgTest, HighBitOf64BitWordsIsBalanced) {
  auto values = ExpandSeedModPow2(Seed(9), 100000, 64);
  ASSERT_TRUE(values.ok());
  size_t high = 0;
  for (uint64_t v : *values) high += v >> 63;
  EXPECT_NEAR(static_cast<double>(high), 50000.0, 1000.0);  // ~6 sd
}

TEST(AesCtrPrgTest, BadArgumentsAreInvalidArgument) {
  EXPECT_EQ(AesCtrPrg::Create(std::vector<uint8_t>(16)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandSeedModPow2(Seed(0), 4, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandSeedModPow2(Seed(0), 4, 65).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto prg = AesCtrPrg::Create(Seed(0));
  ASSERT_TRUE(prg.ok());
  std::vector<uint64_t> acc(4);
  EXPECT_EQ(prg->AddModPow2(0, absl::MakeSpan(acc)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(prg->SubtractModPow2(65, absl::MakeSpan(acc)).code(),
            absl::StatusCode::kInvalidArgument);
  auto empty = ExpandSeedModPow2(Seed(0), 0, 8);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace cohort::crypto
