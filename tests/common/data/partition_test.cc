#include "common/data/partition.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::data {
namespace {

using Shards = std::vector<std::vector<int64_t>>;

// Every index in [0, n) appears in exactly one shard.
void ExpectDisjointAndComplete(const Shards& shards, int64_t n) {
  std::vector<int> seen(static_cast<size_t>(n), 0);
  for (const auto& shard : shards) {
    for (int64_t index : shard) {
      ASSERT_GE(index, 0);
      ASSERT_LT(index, n);
      ++seen[static_cast<size_t>(index)];
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(seen[static_cast<size_t>(i)], 1) << "index " << i;
  }
}

std::vector<uint8_t> BalancedLabels(int64_t n, int num_classes) {
  std::vector<uint8_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    labels[i] = static_cast<uint8_t>(i % num_classes);
  return labels;
}

// Mean over non-empty shards of the share of the shard's most common label.
double MeanMaxLabelShare(const Shards& shards,
                         const std::vector<uint8_t>& labels, int num_classes) {
  double total = 0.0;
  int counted = 0;
  for (const auto& shard : shards) {
    if (shard.empty()) continue;
    std::vector<int> counts(num_classes, 0);
    for (int64_t index : shard) ++counts[labels[index]];
    total +=
        static_cast<double>(*std::max_element(counts.begin(), counts.end())) /
        shard.size();
    ++counted;
  }
  return counted == 0 ? 0.0 : total / counted;
}

TEST(PartitionIidTest, ShardsAreDisjointCompleteAndBalanced) {
  for (int64_t n : {7, 100, 1001}) {
    for (int k : {1, 3, 7}) {
      auto shards = PartitionIid(n, k, /*seed=*/5);
      ASSERT_TRUE(shards.ok()) << shards.status();
      ASSERT_EQ(shards->size(), static_cast<size_t>(k));
      ExpectDisjointAndComplete(*shards, n);
      size_t smallest = n, largest = 0;
      for (const auto& shard : *shards) {
        smallest = std::min(smallest, shard.size());
        largest = std::max(largest, shard.size());
      }
      EXPECT_LE(largest - smallest, 1u) << "n=" << n << " k=" << k;
    }
  }
}

TEST(PartitionIidTest, SameSeedSameSplitDifferentSeedDifferentSplit) {
  auto a = PartitionIid(500, 4, 11);
  auto b = PartitionIid(500, 4, 11);
  auto c = PartitionIid(500, 4, 12);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  // A shuffle, not a contiguous cut.
  std::vector<int64_t> first_block(125);
  for (int i = 0; i < 125; ++i) first_block[i] = i;
  EXPECT_NE((*a)[0], first_block);
}

TEST(PartitionIidTest, InvalidArgumentsAreRejected) {
  EXPECT_EQ(PartitionIid(10, 0, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionIid(10, -2, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionIid(3, 4, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionIid(-1, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(PartitionIid(4, 4, 1).ok());
}

TEST(PartitionDirichletTest, ShardsAreDisjointAndCompleteForManyAlphas) {
  const std::vector<uint8_t> labels = BalancedLabels(2000, 10);
  for (double alpha : {0.001, 0.05, 0.5, 1.0, 10.0, 1000.0}) {
    for (int k : {1, 5, 37}) {
      for (uint64_t seed : {1u, 2u}) {
        auto shards = PartitionDirichlet(labels, 10, k, alpha, seed);
        ASSERT_TRUE(shards.ok()) << shards.status();
        ASSERT_EQ(shards->size(), static_cast<size_t>(k));
        ExpectDisjointAndComplete(*shards, 2000);
      }
    }
  }
}

TEST(PartitionDirichletTest, SmallAlphaIsMoreSkewedThanLargeAlpha) {
  const std::vector<uint8_t> labels = BalancedLabels(10000, 10);
  double skewed = 0.0, even = 0.0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto small = PartitionDirichlet(labels, 10, 20, 0.1, seed);
    auto large = PartitionDirichlet(labels, 10, 20, 100.0, seed);
    ASSERT_TRUE(small.ok() && large.ok());
    skewed += MeanMaxLabelShare(*small, labels, 10) / 5;
    even += MeanMaxLabelShare(*large, labels, 10) / 5;
  }
  // With alpha = 0.1 most shards are dominated by one or two classes; with
  // alpha = 100 each shard is close to the uniform 10%.
  EXPECT_GT(skewed, 0.5);
  EXPECT_LT(even, 0.2);
  EXPECT_GT(skewed, even + 0.3);
}

TEST(PartitionDirichletTest, IsDeterministicInSeed) {
  const std::vector<uint8_t> labels = BalancedLabels(1000, 10);
  auto a = PartitionDirichlet(labels, 10, 8, 0.3, 9);
  auto b = PartitionDirichlet(labels, 10, 8, 0.3, 9);
  auto c = PartitionDirichlet(labels, 10, 8, 0.3, 10);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST(PartitionDirichletTest, HandlesEmptyAndMissingClasses) {
  auto none = PartitionDirichlet({}, 10, 3, 0.5, 1);
  ASSERT_TRUE(none.ok()) << none.status();
  ASSERT_EQ(none->size(), 3u);
  for (const auto& shard : *none) EXPECT_TRUE(shard.empty());

  // Only classes 2 and 7 present.
  std::vector<uint8_t> labels = {2, 7, 2, 7, 2, 2, 7};
  auto shards = PartitionDirichlet(labels, 10, 4, 0.5, 3);
  ASSERT_TRUE(shards.ok());
  ExpectDisjointAndComplete(*shards, static_cast<int64_t>(labels.size()));
}

TEST(PartitionDirichletTest, InvalidArgumentsAreRejected) {
  const std::vector<uint8_t> labels = {0, 1, 2};
  const auto code = [&](const std::vector<uint8_t>& l, int classes, int k,
                        double alpha) {
    return PartitionDirichlet(l, classes, k, alpha, 1).status().code();
  };
  EXPECT_EQ(code(labels, 3, 2, 0.0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(labels, 3, 2, -1.0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(labels, 3, 2, std::numeric_limits<double>::quiet_NaN()),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(labels, 3, 2, std::numeric_limits<double>::infinity()),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(labels, 3, 0, 1.0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(labels, 2, 2, 1.0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(labels, 0, 2, 1.0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(labels, 3, 2, 1.0), absl::StatusCode::kOk);
}

}  // namespace
}  // namespace cohort::data
