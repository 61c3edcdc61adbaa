#include "common/data/partition.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::data {
namespace {

using Shards = std::vector<std::vector<int64_t>>;
using ::testing::HasSubstr;

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

size_t SmallestSize(const Shards& shards) {
  size_t smallest = std::numeric_limits<size_t>::max();
  for (const auto& shard : shards) smallest = std::min(smallest, shard.size());
  return smallest;
}

std::vector<uint8_t> BalancedLabels(int64_t n, int num_classes) {
  std::vector<uint8_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    labels[i] = static_cast<uint8_t>(i % num_classes);
  return labels;
}

PartitionSpec Spec(PartitionScheme scheme, int num_shards, double alpha,
                   uint64_t seed, int min_examples = kDefaultMinExamples) {
  PartitionSpec spec;
  spec.scheme = scheme;
  spec.num_shards = num_shards;
  spec.alpha = alpha;
  spec.seed = seed;
  spec.min_examples = min_examples;
  return spec;
}

PartitionSpec Iid(int num_shards, uint64_t seed, int min_examples = 1) {
  return Spec(PartitionScheme::kIid, num_shards, 0.5, seed, min_examples);
}

PartitionSpec Dirichlet(int num_shards, double alpha, uint64_t seed,
                        int min_examples = kDefaultMinExamples) {
  return Spec(PartitionScheme::kDirichlet, num_shards, alpha, seed,
              min_examples);
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

TEST(PartitionExamplesTest, IidShardsAreDisjointCompleteAndBalanced) {
  for (int64_t n : {70, 100, 1001}) {
    for (int k : {1, 3, 7}) {
      const std::vector<uint8_t> labels = BalancedLabels(n, 10);
      auto shards = PartitionExamples(Iid(k, /*seed=*/5), labels, 10);
      ASSERT_TRUE(shards.ok()) << shards.status();
      ASSERT_EQ(shards->size(), static_cast<size_t>(k));
      ExpectDisjointAndComplete(*shards, n);
      size_t largest = 0;
      for (const auto& shard : *shards) {
        largest = std::max(largest, shard.size());
      }
      EXPECT_LE(largest - SmallestSize(*shards), 1u) << "n=" << n << " k=" << k;
    }
  }
}

TEST(PartitionExamplesTest, IidSameSeedSameSplitDifferentSeedDifferentSplit) {
  const std::vector<uint8_t> labels = BalancedLabels(500, 10);
  auto a = PartitionExamples(Iid(4, 11), labels, 10);
  auto b = PartitionExamples(Iid(4, 11), labels, 10);
  auto c = PartitionExamples(Iid(4, 12), labels, 10);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  // A shuffle, not a contiguous cut.
  std::vector<int64_t> first_block(125);
  for (int i = 0; i < 125; ++i) first_block[i] = i;
  EXPECT_NE((*a)[0], first_block);
}

// Whatever the alpha, a split is either disjoint, complete and at the
// minimum everywhere, or refused naming the minimum; never silently short.
TEST(PartitionExamplesTest, DirichletIsCompleteAndAtTheMinimumOrRefused) {
  const std::vector<uint8_t> labels = BalancedLabels(2000, 10);
  for (double alpha : {0.001, 0.05, 0.5, 1.0, 10.0, 1000.0}) {
    for (int k : {1, 5, 37}) {
      for (uint64_t seed : {1u, 2u}) {
        auto shards = PartitionExamples(Dirichlet(k, alpha, seed), labels, 10);
        if (!shards.ok()) {
          EXPECT_EQ(shards.status().code(), absl::StatusCode::kInvalidArgument);
          EXPECT_THAT(std::string(shards.status().message()),
                      HasSubstr("partition.min_examples: "));
          // 200 examples a label over at most 37 shards: alpha >= 0.5 always
          // finds a split within the draws.
          EXPECT_LT(alpha, 0.5) << "k=" << k << " seed=" << seed;
          continue;
        }
        ASSERT_EQ(shards->size(), static_cast<size_t>(k));
        ExpectDisjointAndComplete(*shards, 2000);
        EXPECT_GE(SmallestSize(*shards), 10u) << alpha << " " << k;
      }
    }
  }
}

TEST(PartitionExamplesTest, SmallAlphaIsMoreSkewedThanLargeAlpha) {
  const std::vector<uint8_t> labels = BalancedLabels(10000, 10);
  double skewed = 0.0, even = 0.0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto small = PartitionExamples(Dirichlet(20, 0.1, seed, 1), labels, 10);
    auto large = PartitionExamples(Dirichlet(20, 100.0, seed, 1), labels, 10);
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

TEST(PartitionExamplesTest, DirichletIsDeterministicInSeed) {
  const std::vector<uint8_t> labels = BalancedLabels(1000, 10);
  auto a = PartitionExamples(Dirichlet(8, 0.3, 9), labels, 10);
  auto b = PartitionExamples(Dirichlet(8, 0.3, 9), labels, 10);
  auto c = PartitionExamples(Dirichlet(8, 0.3, 10), labels, 10);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST(PartitionExamplesTest, DirichletHandlesMissingClasses) {
  // Only classes 2 and 7 present.
  std::vector<uint8_t> labels(1000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i % 2 ? 2 : 7;
  auto shards = PartitionExamples(Dirichlet(4, 0.5, 3), labels, 10);
  ASSERT_TRUE(shards.ok()) << shards.status();
  ExpectDisjointAndComplete(*shards, 1000);
  EXPECT_GE(SmallestSize(*shards), 10u);
}

// NIID-Bench's rule: Dirichlet(0.1) over 100 shards of 60,000 examples leaves
// some shard under 10 in most single draws, and redrawing fixes that. A split
// whose first draw already meets the minimum is kept as drawn, so configs
// that never had a short shard split exactly as before the minimum existed.
TEST(PartitionExamplesTest, RedrawsUntilEveryShardHasTheMinimum) {
  const std::vector<uint8_t> labels = BalancedLabels(60000, 10);
  int first_draw_short = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    PartitionSpec one_draw = Dirichlet(100, 0.1, seed);
    one_draw.max_draws = 1;
    auto first = PartitionExamples(one_draw, labels, 10);
    auto redrawn = PartitionExamples(Dirichlet(100, 0.1, seed), labels, 10);
    ASSERT_TRUE(redrawn.ok()) << "seed " << seed << ": " << redrawn.status();
    ExpectDisjointAndComplete(*redrawn, 60000);
    EXPECT_GE(SmallestSize(*redrawn), 10u) << "seed " << seed;
    if (!first.ok()) {
      ++first_draw_short;
      EXPECT_THAT(std::string(first.status().message()),
                  HasSubstr("in 1 draw ("));
      continue;
    }
    EXPECT_EQ(*first, *redrawn) << "seed " << seed;
    one_draw.min_examples = 1;
    auto unconstrained = PartitionExamples(one_draw, labels, 10);
    ASSERT_TRUE(unconstrained.ok());
    EXPECT_EQ(*unconstrained, *redrawn) << "seed " << seed;
  }
  // A single draw meets the minimum about one time in four.
  EXPECT_GE(first_draw_short, 1);
}

// The field report: Dirichlet(0.01) over 100 shards of 60,000 examples in 10
// labels. Each label lands on about ln(600) ~ 6 shards in amounts of 10 or
// more, so about half the shards stay under 10 in every draw (the fleet saw
// 37 empty and 13 under 10); no number of redraws gives every shard 10. The
// right answer is a refusal naming the field, the numbers and the fix, not
// 50 devices failing one by one with a generic message.
TEST(PartitionExamplesTest, FieldReportSplitIsRefusedNamingFieldAndNumbers) {
  const std::vector<uint8_t> labels = BalancedLabels(60000, 10);
  auto shards = PartitionExamples(Dirichlet(100, 0.01, 7), labels, 10);
  ASSERT_FALSE(shards.ok());
  EXPECT_EQ(shards.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(shards.status().message());
  EXPECT_THAT(message, HasSubstr("partition.min_examples: shard "));
  EXPECT_THAT(message, HasSubstr(" of 100 would hold "));
  EXPECT_THAT(message, HasSubstr("Dirichlet(alpha=0.01) split of 60000 "
                                 "examples into 100 shards"));
  EXPECT_THAT(message, HasSubstr("in 100 draws"));
  EXPECT_THAT(message, HasSubstr("raise partition.alpha"));
  EXPECT_THAT(message, HasSubstr("partition.num_shards"));
  // Even forbidding only empty shards cannot be met.
  EXPECT_EQ(PartitionExamples(Dirichlet(100, 0.01, 7, 1), labels, 10)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // The same skew over fewer shards can be met, and then is.
  auto fewer = PartitionExamples(Dirichlet(20, 0.05, 7), labels, 10);
  ASSERT_TRUE(fewer.ok()) << fewer.status();
  EXPECT_GE(SmallestSize(*fewer), 10u);
}

TEST(ShardOfTest, IsTheShardOfPartitionExamples) {
  const std::vector<uint8_t> labels = BalancedLabels(5000, 10);
  for (const PartitionSpec& spec : {Dirichlet(20, 0.3, 4), Iid(20, 4, 10)}) {
    auto shards = PartitionExamples(spec, labels, 10);
    ASSERT_TRUE(shards.ok()) << shards.status();
    for (int i = 0; i < 20; ++i) {
      auto mine = ShardOf(spec, labels, 10, i);
      ASSERT_TRUE(mine.ok()) << mine.status();
      EXPECT_EQ(*mine, (*shards)[i]) << "shard " << i;
    }
    EXPECT_EQ(ShardOf(spec, labels, 10, 20).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ShardOf(spec, labels, 10, -1).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// What a device whose shard cannot be filled reads: its shard, its count
// and the fix.
TEST(ShardOfTest, ShortShardNamesTheDevicesShardCountAndFix) {
  const std::vector<uint8_t> labels = BalancedLabels(1500, 10);
  // 1,500 examples in 3,000 IID shards: shard 2999 holds none.
  auto empty = ShardOf(Iid(3000, 5, kDefaultMinExamples), labels, 10, 2999);
  ASSERT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(empty.status().message());
  EXPECT_THAT(message, HasSubstr("partition.min_examples: shard 2999 of 3000 "
                                 "would hold no examples"));
  EXPECT_THAT(message,
              HasSubstr("use at most 150 shards (partition.num_shards)"));
  // 1,500 examples in 200 IID shards: 7 or 8 each.
  auto short_shard = ShardOf(Iid(200, 5, kDefaultMinExamples), labels, 10, 3);
  ASSERT_EQ(short_shard.status().code(), absl::StatusCode::kInvalidArgument);
  message = std::string(short_shard.status().message());
  EXPECT_THAT(message, HasSubstr("shard 3 of 200 would hold 8 examples"));
  EXPECT_THAT(message, HasSubstr("shards of 7 or 8 examples"));
  // A Dirichlet refusal names this device's shard too.
  auto skewed = ShardOf(Dirichlet(100, 0.01, 7), BalancedLabels(60000, 10), 10,
                        37);
  ASSERT_EQ(skewed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(skewed.status().message()),
              HasSubstr("partition.min_examples: shard 37 of 100 would hold "));
}

TEST(PartitionExamplesTest, ImpossibleMinimumNamesTheConfigsOwnFields) {
  const std::vector<uint8_t> labels = BalancedLabels(500, 10);
  // 500 examples cannot give 100 shards 10 each, however they are drawn.
  auto agent = PartitionExamples(Dirichlet(100, 1.0, 1), labels, 10);
  ASSERT_EQ(agent.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(agent.status().message()),
              HasSubstr("partition.min_examples: "));
  EXPECT_THAT(std::string(agent.status().message()),
              HasSubstr("500 examples cannot give 100 shards 10 each; fix: use "
                        "at most 50 shards (partition.num_shards)"));
  PartitionSpec population = Dirichlet(100, 1.0, 1);
  population.fields = PopulationFieldNames();
  auto sim = PartitionExamples(population, labels, 10);
  ASSERT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(sim.status().message()),
              HasSubstr("population.min_examples: "));
  EXPECT_THAT(std::string(sim.status().message()),
              HasSubstr("(population.num_clients)"));
}

TEST(PartitionExamplesTest, InvalidSpecsAreNamed) {
  const std::vector<uint8_t> labels = BalancedLabels(1000, 10);
  struct Case {
    PartitionSpec spec;
    int num_classes;
    std::string field;
  };
  PartitionSpec no_draws = Dirichlet(4, 0.5, 1);
  no_draws.max_draws = 0;
  const std::vector<Case> cases = {
      {Iid(0, 1), 10, "partition.num_shards"},
      {Iid(-2, 1), 10, "partition.num_shards"},
      {Iid(4, 1, 0), 10, "partition.min_examples"},
      {Dirichlet(4, 0.0, 1), 10, "partition.alpha"},
      {Dirichlet(4, -1.0, 1), 10, "partition.alpha"},
      {Dirichlet(4, std::numeric_limits<double>::quiet_NaN(), 1), 10,
       "partition.alpha"},
      {Dirichlet(4, std::numeric_limits<double>::infinity(), 1), 10,
       "partition.alpha"},
      {Spec(PartitionScheme::kLabelShards, 4, 0.5, 1), 10, "partition.scheme"},
      {Dirichlet(4, 0.5, 1), 9, "data.labels"},
      {Iid(4, 1), 9, "data.labels"},
      {Iid(4, 1), 0, "data.num_classes"},
      {no_draws, 10, "max_draws"},
  };
  for (const Case& c : cases) {
    const absl::Status status =
        PartitionExamples(c.spec, labels, c.num_classes).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.field));
  }
  // IID ignores alpha.
  PartitionSpec iid = Iid(4, 1);
  iid.alpha = 0;
  EXPECT_TRUE(PartitionExamples(iid, labels, 10).ok());
}

}  // namespace
}  // namespace cohort::data
