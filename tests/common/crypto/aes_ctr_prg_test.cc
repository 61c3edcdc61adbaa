#include "common/crypto/aes_ctr_prg.h"

#include <openssl/evp.h>

#include <algorithm>
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

// Reference for AddMasks, independent of the block code: decodes element j
// of each seed's raw keystream bytes and adds or subtracts it, element by
// element, with one plain 64-bit word per element.
std::vector<uint64_t> ReferenceMasked(std::vector<uint64_t> acc,
                                      const std::vector<MaskSeed>& masks,
                                      int bits) {
  const int w = (bits + 7) / 8;
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  for (const MaskSeed& m : masks) {
    auto bytes = ExpandSeedToBytes(m.seed, acc.size() * w);
    EXPECT_TRUE(bytes.ok());
    for (size_t j = 0; j < acc.size(); ++j) {
      uint64_t e = 0;
      for (int k = w - 1; k >= 0; --k) e = (e << 8) | (*bytes)[w * j + k];
      acc[j] = m.subtract ? acc[j] - e : acc[j] + e;
    }
  }
  for (auto& v : acc) v &= mask;
  return acc;
}

MaskSeed Mask(uint8_t first, bool subtract) {
  MaskSeed m;
  const auto seed = Seed(first);
  std::copy(seed.begin(), seed.end(), m.seed.begin());
  m.subtract = subtract;
  return m;
}

// Every width, lengths that end inside, at and just past a 16 KiB block,
// mixed signs, unreduced inputs.
TEST(AesCtrPrgTest, AddMasksMatchesElementwiseReference) {
  std::vector<MaskSeed> masks;
  for (int i = 0; i < 5; ++i) masks.push_back(Mask(10 + i, i % 2 == 1));
  for (int bits = 1; bits <= 64; ++bits) {
    const size_t block = 16384 / ((bits + 7) / 8);
    for (size_t len : {size_t{1}, size_t{37}, block, block + 1, 2 * block + 5}) {
      std::vector<uint64_t> acc(len);
      uint64_t s = 0x12345 + len * 64 + bits;
      for (auto& v : acc) v = (s = s * 6364136223846793005ULL + 1) >> 3;
      const auto expected = ReferenceMasked(acc, masks, bits);
      ASSERT_TRUE(AddMasks(masks, bits, absl::MakeSpan(acc)).ok());
      ASSERT_EQ(acc, expected) << "bits " << bits << " len " << len;
    }
  }
}

TEST(AesCtrPrgTest, AddMasksEqualsSequentialPrgCalls) {
  for (int bits : {8, 16, 20, 32, 64}) {
    std::vector<MaskSeed> masks = {Mask(1, false), Mask(2, true),
                                   Mask(3, false)};
    std::vector<uint64_t> fused(50001, 5), seq(50001, 5);
    ASSERT_TRUE(AddMasks(masks, bits, absl::MakeSpan(fused)).ok());
    for (const MaskSeed& m : masks) {
      auto prg = AesCtrPrg::Create(m.seed);
      ASSERT_TRUE(prg.ok());
      auto span = absl::MakeSpan(seq);
      ASSERT_TRUE((m.subtract ? prg->SubtractModPow2(bits, span)
                              : prg->AddModPow2(bits, span))
                      .ok());
    }
    EXPECT_EQ(fused, seq) << bits;
    std::vector<uint64_t> one(50001, 5);
    ASSERT_TRUE(AddMask(absl::MakeSpan(one), masks[1].seed, true, bits).ok());
    EXPECT_EQ(one, ReferenceMasked(std::vector<uint64_t>(50001, 5),
                                   {masks[1]}, bits));
  }
}

// AddMasks expands at most 64 masks per pass over `acc`; counts at, just
// past and across several passes, with mixed signs, match the elementwise
// reference.
TEST(AesCtrPrgTest, AddMasksAcrossPassesOfSixtyFourMasks) {
  for (int count : {63, 64, 65, 129}) {
    std::vector<MaskSeed> masks;
    for (int i = 0; i < count; ++i) {
      masks.push_back(Mask(static_cast<uint8_t>(30 + i), i % 3 == 0));
    }
    for (int bits : {16, 24, 33}) {
      std::vector<uint64_t> acc(9000);
      for (size_t j = 0; j < acc.size(); ++j) acc[j] = j * 40503u;
      const auto expected = ReferenceMasked(acc, masks, bits);
      ASSERT_TRUE(AddMasks(masks, bits, absl::MakeSpan(acc)).ok());
      ASSERT_EQ(acc, expected) << count << " masks, bits " << bits;
    }
  }
}

// No masks at all still reduces every element mod 2^bits.
TEST(AesCtrPrgTest, AddMasksWithNoMasksReduces) {
  std::vector<uint64_t> acc = {255, 256, 257, ~uint64_t{0}};
  ASSERT_TRUE(AddMasks({}, 8, absl::MakeSpan(acc)).ok());
  EXPECT_EQ(acc, (std::vector<uint64_t>{255, 0, 1, 255}));
}

// A mask added by one party and subtracted by another cancels exactly, as
// the pairwise masks of SecAgg must.
TEST(AesCtrPrgTest, AddMasksOppositeSignsCancel) {
  std::vector<uint64_t> input(30000);
  for (size_t j = 0; j < input.size(); ++j) input[j] = (j * 7919) & 0xfffff;
  std::vector<uint64_t> acc = input;
  ASSERT_TRUE(
      AddMasks({Mask(4, false), Mask(5, false), Mask(4, true), Mask(5, true)},
               20, absl::MakeSpan(acc))
          .ok());
  EXPECT_EQ(acc, input);
  ASSERT_TRUE(AddMasks({Mask(4, false)}, 20, absl::MakeSpan(acc)).ok());
  EXPECT_NE(acc, input);
}

// Slices unmasked apart (as server unmasking does on several threads) give
// the whole vector's result at every width, with slice edges inside and at
// 16 KiB blocks; a slice that does not start on an aligned element is
// refused.
TEST(AesCtrPrgTest, AddMasksAtSlicesEqualTheWholeVector) {
  std::vector<MaskSeed> masks;
  for (int i = 0; i < 4; ++i) masks.push_back(Mask(20 + i, i % 2 == 0));
  for (int bits = 1; bits <= 64; ++bits) {
    const size_t len = 70001;
    std::vector<uint64_t> whole(len);
    for (size_t j = 0; j < len; ++j) whole[j] = j * 2654435761u;
    std::vector<uint64_t> sliced = whole;
    ASSERT_TRUE(AddMasks(masks, bits, absl::MakeSpan(whole)).ok());
    const size_t cuts[] = {0, 16, 16384, 16400, 49152, 70000, len};
    for (size_t c = 0; c + 1 < std::size(cuts); ++c) {
      auto slice = absl::MakeSpan(sliced).subspan(cuts[c], cuts[c + 1] - cuts[c]);
      ASSERT_TRUE(AddMasksAt(masks, bits, cuts[c], slice).ok()) << bits;
    }
    ASSERT_EQ(sliced, whole) << "bits " << bits;
  }
  // More masks than one pass of 64: every pass seeks to the slice's start.
  std::vector<MaskSeed> many;
  for (int i = 0; i < 65; ++i) many.push_back(Mask(100 + i, i % 2 == 0));
  for (int bits : {16, 24, 33}) {
    std::vector<uint64_t> whole(20000, 7), sliced(20000, 7);
    ASSERT_TRUE(AddMasks(many, bits, absl::MakeSpan(whole)).ok());
    for (size_t first : {size_t{0}, size_t{8192}}) {
      const size_t length = first == 0 ? 8192 : sliced.size() - 8192;
      ASSERT_TRUE(AddMasksAt(many, bits, first,
                             absl::MakeSpan(sliced).subspan(first, length))
                      .ok());
    }
    ASSERT_EQ(sliced, whole) << "65 masks, bits " << bits;
  }
  std::vector<uint64_t> acc(8, 0);
  EXPECT_EQ(AddMasksAt(masks, 16, 8, absl::MakeSpan(acc)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AesCtrPrgTest, AddMasksBadArguments) {
  std::vector<uint64_t> acc(4, 1);
  EXPECT_EQ(AddMasks({Mask(1, false)}, 0, absl::MakeSpan(acc)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AddMask(absl::MakeSpan(acc), std::vector<uint8_t>(31), false, 16)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AddMask(absl::MakeSpan(acc), Seed(1), false, 65).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(acc, std::vector<uint64_t>(4, 1));
  ASSERT_TRUE(AddMasks({}, 16, absl::MakeSpan(acc)).ok());
  EXPECT_EQ(acc, std::vector<uint64_t>(4, 1));
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
