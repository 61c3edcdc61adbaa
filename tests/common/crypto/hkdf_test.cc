#include "common/crypto/hkdf.h"

#include <string_view>
#include <vector>

#include "common/crypto/hex.h"
#include "gtest/gtest.h"

namespace cohort::crypto {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  return HexToBytes(hex).value();
}

std::vector<uint8_t> Range(int start, int count) {
  std::vector<uint8_t> out(count);
  for (int i = 0; i < count; ++i) out[i] = static_cast<uint8_t>(start + i);
  return out;
}

TEST(HkdfSha256Test, Rfc5869TestCase1) {
  auto okm = HkdfSha256(std::vector<uint8_t>(22, 0x0b),
                        Hex("000102030405060708090a0b0c"),
                        Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(BytesToHex(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
}

TEST(HkdfSha256Test, Rfc5869TestCase2) {
  auto okm = HkdfSha256(Range(0x00, 80), Range(0x60, 80), Range(0xb0, 80), 82);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(BytesToHex(*okm),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

TEST(HkdfSha256Test, Rfc5869TestCase3EmptySaltAndInfo) {
  auto okm = HkdfSha256(std::vector<uint8_t>(22, 0x0b), {}, {}, 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(BytesToHex(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8");
}

TEST(HkdfSha256Test, ShorterOutputIsPrefix) {
  const auto ikm = Range(1, 32);
  auto long_okm = HkdfSha256(ikm, {}, Range(9, 3), 100);
  auto short_okm = HkdfSha256(ikm, {}, Range(9, 3), 10);
  ASSERT_TRUE(long_okm.ok() && short_okm.ok());
  EXPECT_EQ(std::vector<uint8_t>(long_okm->begin(), long_okm->begin() + 10),
            *short_okm);
}

TEST(HkdfSha256Test, InfoSeparatesKeys) {
  const auto ikm = Range(1, 32);
  auto a = HkdfSha256(ikm, {}, Range(0, 1), 32);
  auto b = HkdfSha256(ikm, {}, Range(1, 1), 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(HkdfSha256Test, MaximumLengthIsAllowed) {
  auto okm = HkdfSha256(Range(1, 32), {}, {}, kHkdfSha256MaxLength);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(okm->size(), 8160u);
}

TEST(HkdfSha256Test, BadArgumentsAreInvalidArgument) {
  EXPECT_EQ(HkdfSha256(Range(1, 32), {}, {}, kHkdfSha256MaxLength + 1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(Range(1, 32), {}, {}, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256({}, {}, {}, 32).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::crypto
