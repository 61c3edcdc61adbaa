#include "common/data/dataset.h"

#include "gtest/gtest.h"

namespace cohort::data {
namespace {

ImageDataset MakeDataset(int64_t n) {
  ImageDataset d;
  d.num_examples = n;
  d.height = 2;
  d.width = 3;
  for (int64_t i = 0; i < n; ++i) {
    for (int p = 0; p < 6; ++p)
      d.images.push_back(static_cast<uint8_t>(i * 10 + p));
    d.labels.push_back(static_cast<uint8_t>(i % 10));
  }
  return d;
}

TEST(SubsetTest, SubsetKeepsOrderAndDuplicates) {
  ImageDataset source = MakeDataset(5);
  ImageDataset sub = Subset(source, {4, 1, 4});
  ASSERT_EQ(sub.num_examples, 3);
  EXPECT_EQ(sub.height, 2);
  EXPECT_EQ(sub.width, 3);
  EXPECT_EQ(sub.num_classes, source.num_classes);
  ASSERT_EQ(sub.images.size(), 18u);
  EXPECT_EQ(sub.labels, (std::vector<uint8_t>{4, 1, 4}));
  for (int p = 0; p < 6; ++p) {
    EXPECT_EQ(sub.images[p], 40 + p);
    EXPECT_EQ(sub.images[6 + p], 10 + p);
    EXPECT_EQ(sub.images[12 + p], 40 + p);
  }
}

TEST(SubsetTest, EmptyIndicesGiveEmptyDataset) {
  ImageDataset sub = Subset(MakeDataset(3), {});
  EXPECT_EQ(sub.num_examples, 0);
  EXPECT_TRUE(sub.images.empty());
  EXPECT_TRUE(sub.labels.empty());
}

TEST(SubsetDeathTest, OutOfRangeIndexDies) {
  ImageDataset source = MakeDataset(3);
  EXPECT_DEATH(Subset(source, {3}), "out of range");
}

}  // namespace
}  // namespace cohort::data
