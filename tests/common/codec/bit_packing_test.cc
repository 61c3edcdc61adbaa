#include "common/codec/bit_packing.h"

#include <cstdint>
#include <vector>

#include "common/base/splitmix64.h"
#include "gtest/gtest.h"

namespace cohort::codec {
namespace {

TEST(BitPackingTest, RoundTripsEveryWidthWithRandomValues) {
  base::SplitMix64 rng(42);
  for (int bits = 1; bits <= 62; ++bits) {
    const uint64_t mask = (uint64_t{1} << bits) - 1;
    for (int64_t count : {0, 1, 7, 8, 9, 63, 200}) {
      std::vector<uint64_t> values(count);
      for (auto& v : values) v = rng.Next() & mask;
      if (count > 0) values[0] = mask;  // all-ones edge
      auto packed = PackBits(values, bits);
      ASSERT_TRUE(packed.ok()) << packed.status();
      ASSERT_EQ(packed->size(), static_cast<size_t>((count * bits + 7) / 8));
      auto unpacked = UnpackBits(*packed, count, bits);
      ASSERT_TRUE(unpacked.ok()) << unpacked.status();
      EXPECT_EQ(*unpacked, values) << "bits=" << bits << " count=" << count;
    }
  }
}

TEST(BitPackingTest, LayoutIsLittleEndianBitOrder) {
  // 3-bit values 5, 3, 6: value i sits at stream bits [3i, 3i+3), LSB first;
  // byte 0 holds bits 0..7, so 6's top bit spills into byte 1.
  auto packed = PackBits({5, 3, 6}, 3);
  ASSERT_TRUE(packed.ok());
  ASSERT_EQ(packed->size(), 2u);
  EXPECT_EQ((*packed)[0], static_cast<uint8_t>(5 | (3 << 3) | ((6 & 3) << 6)));
  EXPECT_EQ((*packed)[1], static_cast<uint8_t>(6 >> 2));
}

TEST(BitPackingTest, RejectsOutOfRangeInputs) {
  EXPECT_EQ(PackBits({8}, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackBits({1}, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackBits({1}, 63).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BitPackingTest, UnpackRejectsWrongLengthAndDirtyPadding) {
  EXPECT_EQ(UnpackBits(std::vector<uint8_t>{0}, 3, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UnpackBits(std::vector<uint8_t>{0, 0x80}, 3, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(UnpackBits(std::vector<uint8_t>{0, 0x01}, 3, 3).ok());
}

}  // namespace
}  // namespace cohort::codec
