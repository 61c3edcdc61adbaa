#include "client/train/field_summary.h"

#include <vector>

#include "gtest/gtest.h"

namespace cohort::client {
namespace {

// Two 28x28 images: one all white, one black but for its top-left 4x4
// patch, which is 51 (0.2 of full intensity).
data::ImageDataset TwoImages() {
  data::ImageDataset d;
  d.num_examples = 2;
  d.height = 28;
  d.width = 28;
  d.images.assign(2 * 28 * 28, 0);
  for (int i = 0; i < 28 * 28; ++i) d.images[i] = 255;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) d.images[28 * 28 + y * 28 + x] = 51;
  }
  d.labels = {1, 2};
  return d;
}

ml::EvalResult Counts() {
  ml::EvalResult r;
  r.num_examples = 2;
  r.predicted_counts = {0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  r.confidence_counts = {0, 0, 0, 0, 0, 2, 0, 0, 0, 0};
  return r;
}

TEST(SummarizeFieldTest, SharesAndPatchMoments) {
  auto s = SummarizeField(TwoImages(), Counts());
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->prediction_fraction_size(), 10);
  EXPECT_EQ(s->prediction_fraction(1), 0.5);
  EXPECT_EQ(s->prediction_fraction(2), 0.5);
  EXPECT_EQ(s->confidence_fraction(5), 1.0);
  ASSERT_EQ(s->feature_mean_size(), 49);
  ASSERT_EQ(s->feature_mean_square_size(), 49);
  // Top-left patch: 1.0 and 0.2; every other patch: 1.0 and 0.
  EXPECT_NEAR(s->feature_mean(0), 0.6, 1e-12);
  EXPECT_NEAR(s->feature_mean_square(0), (1.0 + 0.04) / 2, 1e-12);
  EXPECT_NEAR(s->feature_mean(48), 0.5, 1e-12);
  EXPECT_NEAR(s->feature_mean_square(48), 0.5, 1e-12);
}

TEST(SummarizeFieldTest, NothingForDataOrCountsThatDoNotFit) {
  data::ImageDataset small = TwoImages();
  small.height = 14;
  small.width = 14;
  small.images.resize(2 * 14 * 14);
  EXPECT_FALSE(SummarizeField(small, Counts()).has_value());
  EXPECT_FALSE(SummarizeField(data::ImageDataset{}, Counts()).has_value());
  ml::EvalResult short_counts = Counts();
  short_counts.predicted_counts.pop_back();
  EXPECT_FALSE(SummarizeField(TwoImages(), short_counts).has_value());
  ml::EvalResult wrong_total = Counts();
  wrong_total.confidence_counts[5] = 3;
  EXPECT_FALSE(SummarizeField(TwoImages(), wrong_total).has_value());
}

}  // namespace
}  // namespace cohort::client
