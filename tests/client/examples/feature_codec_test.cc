#include "client/examples/feature_codec.h"

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

TEST(FeatureCodecTest, EncodeIsLittleEndianFloat32) {
  const std::vector<float> values = {1.0f, -2.0f};
  EXPECT_EQ(EncodeFeatures(values),
            std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
}

TEST(FeatureCodecTest, DecodeOfEncodeIsBitExact) {
  std::mt19937 rng(11);
  std::vector<float> values(1000);
  for (float& v : values)
    v = std::bit_cast<float>(static_cast<uint32_t>(rng()));
  std::vector<float> decoded = {42.0f};  // Decode appends
  ASSERT_TRUE(DecodeFeatures(EncodeFeatures(values), 1000, &decoded));
  ASSERT_EQ(decoded.size(), 1001u);
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(decoded[i + 1]),
              std::bit_cast<uint32_t>(values[i]))
        << i;
  }
}

TEST(FeatureCodecTest, DecodeRefusesAWrongSizeAndLeavesTheOutput) {
  std::vector<float> decoded = {1.0f};
  EXPECT_FALSE(DecodeFeatures(std::string(7, '\0'), 2, &decoded));
  EXPECT_FALSE(DecodeFeatures(std::string(12, '\0'), 2, &decoded));
  EXPECT_EQ(decoded, std::vector<float>{1.0f});
}

TEST(FeatureCodecTest, PixelOfIsExactForEveryByte) {
  for (int k = 0; k < 256; ++k) {
    EXPECT_EQ(PixelOf(static_cast<float>(k) / 255.0f), k);
  }
  EXPECT_EQ(PixelOf(-1.0f), 0);
  EXPECT_EQ(PixelOf(2.0f), 255);
}

TEST(FeatureCodecTest, ToImageDatasetTakesGreyscaleShapesOnly) {
  FeatureBatch batch;
  batch.num_examples = 1;
  batch.features = std::vector<float>(12, 0.5f);
  batch.labels = {1};
  batch.shape = {3, 2, 2};
  EXPECT_EQ(ToImageDataset(batch, 10).status().code(),
            absl::StatusCode::kFailedPrecondition);
  batch.shape = {1, 3, 4};
  absl::StatusOr<data::ImageDataset> data = ToImageDataset(batch, 10);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->height, 3);
  EXPECT_EQ(data->width, 4);
  EXPECT_EQ(data->images, std::vector<uint8_t>(12, 128));
  batch.labels = {10};
  EXPECT_EQ(ToImageDataset(batch, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FeatureCodecTest, IntensitiesOfIsPixelOfBackwards) {
  data::ImageDataset d;
  d.num_examples = 3;
  d.height = 2;
  d.width = 2;
  d.images = {0, 1, 2, 3, 255, 128, 7, 9, 10, 11, 12, 13};
  d.labels = {0, 1, 2};
  const std::vector<float> middle = IntensitiesOf(d, 1, 1);
  ASSERT_EQ(middle.size(), 4u);
  EXPECT_FLOAT_EQ(middle[0], 1.0f);
  EXPECT_FLOAT_EQ(middle[1], 128.0f / 255.0f);
  const std::vector<float> all = IntensitiesOf(d, 0, 3);
  ASSERT_EQ(all.size(), 12u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(PixelOf(all[i]), d.images[i]) << i;
  }
}

}  // namespace
}  // namespace cohort::client
