#include "common/crypto/hex.h"

#include <vector>

#include "gtest/gtest.h"

namespace cohort::crypto {
namespace {

TEST(HexTest, RoundTripsEveryByte) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  const std::string hex = BytesToHex(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(504), "fcfdfeff");
  auto back = HexToBytes(hex);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, all);
}

TEST(HexTest, AcceptsUpperCase) {
  auto bytes = HexToBytes("ABcdEF");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, (std::vector<uint8_t>{0xab, 0xcd, 0xef}));
}

TEST(HexTest, MalformedInputIsInvalidArgument) {
  EXPECT_EQ(HexToBytes("abc").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexToBytes("zz").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexToBytes("0x12").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(HexToBytes("").ok());
}

}  // namespace
}  // namespace cohort::crypto
