#include "common/data/client_population.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::data {
namespace {

using ::testing::HasSubstr;

constexpr int kClasses = 10;
constexpr int64_t kDataSize = 6000;

// Balanced labels (600 per class); 1x1 images whose pixel encodes the index,
// so DataOf can be checked against ExamplesOf.
ImageDataset BalancedData() {
  ImageDataset data;
  data.num_examples = kDataSize;
  data.height = data.width = 1;
  data.num_classes = kClasses;
  for (int64_t i = 0; i < kDataSize; ++i) {
    data.labels.push_back(static_cast<uint8_t>(i % kClasses));
    data.images.push_back(static_cast<uint8_t>(i % 251));
  }
  return data;
}

std::unique_ptr<ClientPopulation> Make(const PopulationSpec& spec,
                                       const ImageDataset& data) {
  auto population = ClientPopulation::Create(spec, &data);
  EXPECT_TRUE(population.ok()) << population.status();
  return population.ok() ? std::move(*population) : nullptr;
}

PopulationSpec Spec(PartitionScheme scheme, double alpha = 0.5) {
  PopulationSpec spec;
  spec.num_clients = 100000;
  spec.scheme = scheme;
  spec.alpha = alpha;
  spec.seed = 42;
  return spec;
}

// Label statistics of clients [0, clients): Simpson index sum_l q_l^2 of the
// client's label shares q, its max share, its total-variation distance from
// the (uniform) global distribution, and the pooled label counts.
struct Skew {
  double simpson = 0, max_share = 0, tv = 0;
  std::vector<int64_t> pooled = std::vector<int64_t>(kClasses, 0);
};

Skew MeasureSkew(const ClientPopulation& population, int64_t clients) {
  Skew skew;
  for (int64_t id = 0; id < clients; ++id) {
    std::vector<double> share(kClasses, 0.0);
    const std::vector<int64_t> examples = population.ExamplesOf(id);
    for (int64_t i : examples) {
      share[population.data().labels[i]] += 1.0 / examples.size();
      ++skew.pooled[population.data().labels[i]];
    }
    for (double q : share) {
      skew.simpson += q * q / clients;
      skew.tv += 0.5 * std::abs(q - 1.0 / kClasses) / clients;
    }
    skew.max_share += *std::max_element(share.begin(), share.end()) / clients;
  }
  return skew;
}

double MaxPooledDeviation(const Skew& skew) {
  const double total =
      std::accumulate(skew.pooled.begin(), skew.pooled.end(), 0.0);
  double worst = 0;
  for (int64_t c : skew.pooled) {
    worst = std::max(worst, std::abs(c / total - 1.0 / kClasses));
  }
  return worst;
}

// E[sum_l q_l^2] for n labels drawn from p ~ Dirichlet(alpha) over k classes:
// E[sum p^2] = 1/k + (1 - 1/k) / (k alpha + 1), plus the multinomial 1/n term.
double ExpectedDirichletSimpson(double alpha, int n) {
  const double k = kClasses;
  const double p2 = 1 / k + (1 - 1 / k) / (k * alpha + 1);
  return 1.0 / n + (1 - 1.0 / n) * p2;
}

// The same for n distinct examples from the balanced data set (hypergeometric).
double ExpectedIidSimpson(int n) {
  const double k = kClasses, big_n = kDataSize;
  return 1 / k + (1 - 1 / k) / n * (big_n - n) / (big_n - 1);
}

TEST(ClientPopulationTest, ExamplesOfIsDeterministicAndValid) {
  const ImageDataset data = BalancedData();
  for (auto scheme : {PartitionScheme::kIid, PartitionScheme::kDirichlet,
                      PartitionScheme::kLabelShards}) {
    PopulationSpec spec = Spec(scheme);
    spec.quantity_sigma = 1.0;
    auto a = Make(spec, data), b = Make(spec, data);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    for (int64_t id : {0, 1, 2, 77, 99999}) {
      const std::vector<int64_t> examples = a->ExamplesOf(id);
      EXPECT_EQ(examples, a->ExamplesOf(id));
      EXPECT_EQ(examples, b->ExamplesOf(id));
      EXPECT_EQ(static_cast<int64_t>(examples.size()), a->NumExamplesOf(id));
      for (int64_t i : examples) ASSERT_TRUE(i >= 0 && i < kDataSize);
      // Within a client, examples do not repeat while the pool suffices.
      std::vector<int64_t> sorted = examples;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
    }
  }
}

TEST(ClientPopulationTest, SeedsAndNeighbouringIdsGiveIndependentData) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec = Spec(PartitionScheme::kIid);
  auto a = Make(spec, data);
  spec.seed = 43;
  auto b = Make(spec, data);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  double overlap = 0;
  constexpr int kPairs = 2000;
  for (int64_t id = 0; id < kPairs; ++id) {
    EXPECT_NE(a->ExamplesOf(id), b->ExamplesOf(id)) << id;
    std::vector<int64_t> x = a->ExamplesOf(id), y = a->ExamplesOf(id + 1);
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    std::vector<int64_t> common;
    std::set_intersection(x.begin(), x.end(), y.begin(), y.end(),
                          std::back_inserter(common));
    overlap += static_cast<double>(common.size()) / kPairs;
  }
  // Independent draws of 60 from 6000 share 60 * 60 / 6000 = 0.6 on average.
  EXPECT_NEAR(overlap, 0.6, 0.1);
}

TEST(ClientPopulationTest, ConcurrentCallsInAnyOrderAgree) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec = Spec(PartitionScheme::kDirichlet);
  spec.quantity_sigma = 1.0;
  auto population = Make(spec, data);
  ASSERT_NE(population, nullptr);
  constexpr int kIds = 300, kThreads = 4;
  std::vector<std::vector<int64_t>> reference(kIds);
  for (int id = 0; id < kIds; ++id) reference[id] = population->ExamplesOf(id);

  std::vector<std::vector<std::vector<int64_t>>> results(
      kThreads, std::vector<std::vector<int64_t>>(kIds));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int> order(kIds);
      std::iota(order.begin(), order.end(), 0);
      if (t % 2 == 1) std::reverse(order.begin(), order.end());
      if (t >= 2) std::shuffle(order.begin(), order.end(), std::mt19937(t));
      for (int id : order) results[t][id] = population->ExamplesOf(id);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(results[t], reference) << t;
}

TEST(ClientPopulationTest, IidLabelsMatchTheGlobalDistribution) {
  const ImageDataset data = BalancedData();
  auto population = Make(Spec(PartitionScheme::kIid), data);
  ASSERT_NE(population, nullptr);
  constexpr int kClients = 2000;
  const Skew skew = MeasureSkew(*population, kClients);
  // Pooled: chi-square with 9 degrees of freedom; P(> 30) is about 4e-4.
  const double expected = kClients * 60.0 / kClasses;
  double chi2 = 0;
  for (int64_t c : skew.pooled)
    chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 30.0);
  // Per client: only sampling noise around the uniform global distribution.
  EXPECT_NEAR(skew.simpson, ExpectedIidSimpson(60), 0.003);
  EXPECT_LT(skew.tv, 0.2);  // About 0.15 for 60 draws over 10 labels.
}

TEST(ClientPopulationTest, DirichletSkewFallsWithAlphaAsExpected) {
  const ImageDataset data = BalancedData();
  constexpr int kClients = 2000;
  const std::vector<double> alphas = {0.1, 1.0, 100.0};
  const std::vector<double> tolerances = {0.03, 0.01, 0.003};
  std::vector<Skew> skews;
  for (size_t a = 0; a < alphas.size(); ++a) {
    auto population = Make(Spec(PartitionScheme::kDirichlet, alphas[a]), data);
    ASSERT_NE(population, nullptr);
    skews.push_back(MeasureSkew(*population, kClients));
    EXPECT_NEAR(skews[a].simpson, ExpectedDirichletSimpson(alphas[a], 60),
                tolerances[a])
        << "alpha " << alphas[a];
    // Symmetric Dirichlet: the pooled label mix stays uniform.
    EXPECT_LT(MaxPooledDeviation(skews[a]), 0.02) << "alpha " << alphas[a];
  }
  for (size_t a = 0; a + 1 < alphas.size(); ++a) {
    EXPECT_GT(skews[a].simpson, skews[a + 1].simpson + 0.01);
    EXPECT_GT(skews[a].max_share, skews[a + 1].max_share + 0.05);
    EXPECT_GT(skews[a].tv, skews[a + 1].tv + 0.05);
  }
  auto iid = Make(Spec(PartitionScheme::kIid), data);
  ASSERT_NE(iid, nullptr);
  const Skew iid_skew = MeasureSkew(*iid, kClients);
  EXPECT_NEAR(skews.back().simpson, iid_skew.simpson, 0.005);
  EXPECT_NEAR(skews.back().tv, iid_skew.tv, 0.02);
}

TEST(ClientPopulationTest, TinyAlphaGivesOneLabelPerClient) {
  const ImageDataset data = BalancedData();
  // 1e-300 underflows every Gamma draw even in log space (the fallback).
  for (double alpha : {1e-4, 1e-300}) {
    auto population = Make(Spec(PartitionScheme::kDirichlet, alpha), data);
    ASSERT_NE(population, nullptr);
    const Skew skew = MeasureSkew(*population, 500);
    EXPECT_GT(skew.max_share, 0.99) << alpha;
    // The dominant label is uniform, not always the same one.
    EXPECT_LT(MaxPooledDeviation(skew), 0.05) << alpha;
  }
}

TEST(ClientPopulationTest, LabelShardsGiveDistinctLabelsInEqualParts) {
  const ImageDataset data = BalancedData();
  for (int labels : {1, 2, 3, kClasses}) {
    PopulationSpec spec = Spec(PartitionScheme::kLabelShards);
    spec.labels_per_client = labels;
    spec.quantity_sigma = 1.0;  // Some clients hold fewer than `labels`,
    spec.min_examples = 1;      // which the default minimum would prevent.
    auto population = Make(spec, data);
    ASSERT_NE(population, nullptr);
    constexpr int kClients = 2000;
    std::vector<int> holders(kClasses, 0);  // Clients with n >= labels.
    int full = 0;
    for (int64_t id = 0; id < kClients; ++id) {
      const std::vector<int64_t> examples = population->ExamplesOf(id);
      const int64_t n = static_cast<int64_t>(examples.size());
      std::vector<int64_t> counts(kClasses, 0);
      for (int64_t i : examples) ++counts[data.labels[i]];
      const int distinct = static_cast<int>(std::count_if(
          counts.begin(), counts.end(), [](int64_t c) { return c > 0; }));
      ASSERT_EQ(distinct, std::min<int64_t>(labels, n)) << "client " << id;
      for (int l = 0; l < kClasses; ++l) {
        if (counts[l] == 0) continue;
        ASSERT_LE(std::abs(counts[l] - n / labels), 1) << "client " << id;
        if (n >= labels) ++holders[l];
      }
      if (n >= labels) ++full;
    }
    if (labels == kClasses) EXPECT_LT(full, kClients);  // Small n was seen.
    // Each label is held by a uniform share labels / k of the clients;
    // 0.045 is over 4 binomial standard deviations for every case here.
    for (int l = 0; l < kClasses; ++l) {
      EXPECT_NEAR(static_cast<double>(holders[l]) / full,
                  static_cast<double>(labels) / kClasses, 0.045)
          << "label " << l << " with " << labels << " per client";
    }
  }
}

TEST(ClientPopulationTest, ZeroSigmaGivesExactlyMeanExamples) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec = Spec(PartitionScheme::kDirichlet);
  spec.mean_examples = 37;
  auto population = Make(spec, data);
  ASSERT_NE(population, nullptr);
  for (int64_t id = 0; id < 1000; ++id) {
    ASSERT_EQ(population->NumExamplesOf(id), 37);
    ASSERT_EQ(population->ExamplesOf(id).size(), 37u);
  }
}

// Exact mean and coefficient of variation of
// clamp(round(mean * exp(sigma Z - sigma^2 / 2)), lo, hi), Z standard normal.
std::pair<double, double> ClampedLogNormalMoments(double mean, double sigma,
                                                  int64_t lo, int64_t hi) {
  auto below = [&](double x) {  // P(mean * exp(sigma Z - sigma^2/2) < x).
    if (x <= 0) return 0.0;
    const double z = (std::log(x / mean) + sigma * sigma / 2) / sigma;
    return 0.5 * std::erfc(-z / std::sqrt(2.0));
  };
  double m1 = 0, m2 = 0;
  for (int64_t k = lo; k <= hi; ++k) {
    const double p =
        (k == hi ? 1.0 : below(k + 0.5)) - (k == lo ? 0.0 : below(k - 0.5));
    m1 += p * k;
    m2 += p * k * k;
  }
  return {m1, std::sqrt(m2 - m1 * m1) / m1};
}

TEST(ClientPopulationTest, QuantitySkewFollowsTheClampedLogNormal) {
  const ImageDataset data = BalancedData();
  struct Case {
    int min_examples, max_examples;
  };
  // 6000 = 100x the mean (clamps negligible); 0 = the default 10x; 30..90.
  for (const Case c : {Case{1, 6000}, Case{1, 0}, Case{30, 90}}) {
    PopulationSpec spec = Spec(PartitionScheme::kIid);
    spec.quantity_sigma = 1.0;
    spec.min_examples = c.min_examples;
    spec.max_examples = c.max_examples;
    auto population = Make(spec, data);
    ASSERT_NE(population, nullptr);
    const int64_t hi = c.max_examples == 0 ? 600 : c.max_examples;
    constexpr int kClients = 100000;
    double sum = 0, sum2 = 0;
    int64_t at_lo = 0, at_hi = 0;
    for (int64_t id = 0; id < kClients; ++id) {
      const int64_t n = population->NumExamplesOf(id);
      ASSERT_GE(n, c.min_examples);
      ASSERT_LE(n, hi);
      at_lo += n == c.min_examples;
      at_hi += n == hi;
      sum += n;
      sum2 += static_cast<double>(n) * n;
    }
    const double mean = sum / kClients;
    const double cv = std::sqrt(sum2 / kClients - mean * mean) / mean;
    const auto [want_mean, want_cv] =
        ClampedLogNormalMoments(60, 1.0, c.min_examples, hi);
    EXPECT_NEAR(mean, want_mean, 0.02 * want_mean) << hi;
    EXPECT_NEAR(cv, want_cv, 0.05) << hi;
    if (hi == 6000) {
      EXPECT_NEAR(mean, 60.0, 1.0);
      EXPECT_NEAR(cv, std::sqrt(std::exp(1.0) - 1), 0.08);
    }
    if (c.min_examples == 30) {
      EXPECT_GT(at_lo, kClients / 10);  // P(below 30) is about 0.33.
      EXPECT_GT(at_hi, kClients / 10);  // P(above 90) is about 0.22.
    }
  }
}

TEST(ClientPopulationTest, MillionClientsAreLazyAndStable) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec = Spec(PartitionScheme::kDirichlet);
  spec.quantity_sigma = 1.0;
  spec.num_clients = 1000000;
  auto million = Make(spec, data);
  // A trillion clients only fit if nothing is stored per client.
  spec.num_clients = 1000000000000;
  auto trillion = Make(spec, data);
  ASSERT_NE(million, nullptr);
  ASSERT_NE(trillion, nullptr);
  const std::vector<int64_t> last = million->ExamplesOf(999999);
  EXPECT_FALSE(last.empty());
  EXPECT_EQ(last, million->ExamplesOf(999999));
  // A client's data does not depend on the population size.
  EXPECT_EQ(last, trillion->ExamplesOf(999999));
  EXPECT_EQ(trillion->ExamplesOf(999999999999).size(),
            static_cast<size_t>(trillion->NumExamplesOf(999999999999)));
}

TEST(ClientPopulationTest, DataOfIsTheSubsetOfExamplesOf) {
  const ImageDataset data = BalancedData();
  auto population = Make(Spec(PartitionScheme::kLabelShards), data);
  ASSERT_NE(population, nullptr);
  const std::vector<int64_t> examples = population->ExamplesOf(5);
  const ImageDataset mine = population->DataOf(5);
  ASSERT_EQ(mine.num_examples, static_cast<int64_t>(examples.size()));
  for (size_t i = 0; i < examples.size(); ++i) {
    EXPECT_EQ(mine.labels[i], data.labels[examples[i]]);
    EXPECT_EQ(mine.images[i], data.images[examples[i]]);
  }
}

TEST(ClientPopulationDeathTest, OutOfRangeIdIsACallerBug) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec = Spec(PartitionScheme::kIid);
  spec.num_clients = 10;
  auto population = Make(spec, data);
  ASSERT_NE(population, nullptr);
  EXPECT_DEATH(population->ExamplesOf(10), "out of range");
  EXPECT_DEATH(population->NumExamplesOf(-1), "out of range");
}

TEST(ValidatePopulationSpecTest, EachBadFieldIsNamed) {
  const ImageDataset data = BalancedData();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr auto kIid = PartitionScheme::kIid;
  constexpr auto kDir = PartitionScheme::kDirichlet;
  constexpr auto kShards = PartitionScheme::kLabelShards;
  struct Case {
    PartitionScheme scheme;
    std::function<void(PopulationSpec&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {kIid, [](auto& s) { s.num_clients = 0; }, "num_clients"},
      {static_cast<PartitionScheme>(7), [](auto& s) {}, "scheme"},
      {kDir, [](auto& s) { s.alpha = 0; }, "alpha"},
      {kDir, [](auto& s) { s.alpha = -1; }, "alpha"},
      {kDir, [&](auto& s) { s.alpha = nan; }, "alpha"},
      {kDir, [](auto& s) { s.alpha = HUGE_VAL; }, "alpha"},
      {kShards, [](auto& s) { s.labels_per_client = 0; }, "labels_per_client"},
      {kShards, [](auto& s) { s.labels_per_client = 11; }, "labels_per_client"},
      {kIid, [](auto& s) { s.mean_examples = 0; }, "mean_examples"},
      {kIid, [](auto& s) { s.quantity_sigma = -0.1; }, "quantity_sigma"},
      {kIid, [&](auto& s) { s.quantity_sigma = nan; }, "quantity_sigma"},
      {kIid, [](auto& s) { s.min_examples = 0; }, "min_examples"},
      {kIid, [](auto& s) { s.max_examples = -1; }, "max_examples"},
      // min 50 > max 40 (mean 45 lies between, so min is the one at fault).
      {kIid,
       [](auto& s) {
         s = {.mean_examples = 45, .min_examples = 50, .max_examples = 40};
       },
       "min_examples"},
      {kIid, [](auto& s) { s.min_examples = 100; }, "mean_examples"},
      {kIid, [](auto& s) { s.max_examples = 59; }, "mean_examples"},
  };
  for (const Case& c : cases) {
    PopulationSpec spec;
    spec.scheme = c.scheme;
    c.mutate(spec);
    const absl::Status status = ValidatePopulationSpec(spec, kClasses);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("population." + c.field + ":"));
    EXPECT_EQ(ClientPopulation::Create(spec, &data).status(), status);
  }
  // Fields the scheme ignores are not checked.
  PopulationSpec iid;
  iid.alpha = 0;
  iid.labels_per_client = 0;
  EXPECT_TRUE(ValidatePopulationSpec(iid, kClasses).ok());
}

TEST(ClientPopulationTest, CreateRejectsUnusableData) {
  const ImageDataset good = BalancedData();
  const PopulationSpec dirichlet = Spec(PartitionScheme::kDirichlet);
  auto code = [&](const ImageDataset* data, PopulationSpec spec) {
    return ClientPopulation::Create(spec, data).status().code();
  };
  EXPECT_EQ(code(nullptr, dirichlet), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(&good, dirichlet), absl::StatusCode::kOk);
  ImageDataset empty;
  EXPECT_EQ(code(&empty, dirichlet), absl::StatusCode::kInvalidArgument);
  ImageDataset short_labels = good;
  short_labels.labels.pop_back();
  EXPECT_EQ(code(&short_labels, dirichlet), absl::StatusCode::kInvalidArgument);
  ImageDataset bad_label = good;
  bad_label.labels[3] = kClasses;
  EXPECT_EQ(code(&bad_label, dirichlet), absl::StatusCode::kInvalidArgument);
  // No example of label 3: fatal when the scheme can assign it, not for IID.
  ImageDataset no_three = good;
  for (uint8_t& label : no_three.labels) label = label == 3 ? 4 : label;
  auto status = ClientPopulation::Create(dirichlet, &no_three).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("label 3"));
  EXPECT_EQ(code(&no_three, Spec(PartitionScheme::kLabelShards)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(&no_three, Spec(PartitionScheme::kIid)),
            absl::StatusCode::kOk);
}

// The simulator's SHARDS layout is the agents' split: client i holds exactly
// the indices, in the same order, that PartitionExamples() gives shard i of
// the PartitionSpec an agent builds from the same config.
TEST(ClientPopulationTest, ShardsLayoutClientIIsTheAgentsShardI) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec;
  spec.layout = PopulationLayout::kShards;
  spec.scheme = PartitionScheme::kDirichlet;
  spec.num_clients = 50;
  spec.alpha = 0.3;
  spec.seed = 7;
  PartitionSpec agent;  // What ResolveAgentOptions builds from PartitionConfig.
  agent.scheme = PartitionScheme::kDirichlet;
  agent.num_shards = 50;
  agent.alpha = 0.3;
  agent.seed = 7;
  const PartitionSpec derived = ShardPartitionOf(spec);
  EXPECT_EQ(derived.scheme, agent.scheme);
  EXPECT_EQ(derived.num_shards, agent.num_shards);
  EXPECT_EQ(derived.alpha, agent.alpha);
  EXPECT_EQ(derived.seed, agent.seed);
  EXPECT_EQ(derived.min_examples, agent.min_examples);
  EXPECT_EQ(derived.max_draws, agent.max_draws);
  auto shards = PartitionExamples(agent, data.labels, data.num_classes);
  ASSERT_TRUE(shards.ok()) << shards.status();
  auto population = Make(spec, data);
  ASSERT_NE(population, nullptr);
  int64_t total = 0;
  for (int64_t id = 0; id < 50; ++id) {
    const std::vector<int64_t> examples = population->ExamplesOf(id);
    EXPECT_EQ(examples, (*shards)[id]) << "client " << id;
    EXPECT_EQ(population->NumExamplesOf(id),
              static_cast<int64_t>(examples.size()));
    EXPECT_GE(examples.size(), static_cast<size_t>(kDefaultMinExamples));
    total += static_cast<int64_t>(examples.size());
  }
  // Disjoint shards of the whole data set, unlike the sampled layout.
  EXPECT_EQ(total, kDataSize);
  // A different seed is a different split.
  spec.seed = 8;
  auto other = Make(spec, data);
  ASSERT_NE(other, nullptr);
  EXPECT_NE(other->ExamplesOf(0), population->ExamplesOf(0));
}

TEST(ClientPopulationTest, ShardsLayoutRefusesWhatTheAgentsWouldRefuse) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec;
  spec.layout = PopulationLayout::kShards;
  spec.scheme = PartitionScheme::kDirichlet;
  spec.num_clients = 100;
  spec.alpha = 0.01;
  // 600 examples a label, each landing on a handful of the 100 clients: no
  // draw gives every client 10, so the minimum is named, in the
  // simulator's own field names.
  absl::Status status = ClientPopulation::Create(spec, &data).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("population.min_examples: shard "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("population.alpha"));
  // More clients than the data can give min_examples each.
  spec.alpha = 1.0;
  spec.num_clients = kDataSize / kDefaultMinExamples + 1;
  status = ClientPopulation::Create(spec, &data).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("population.num_clients: "));
  // Exactly enough: an IID split gives every client exactly the minimum.
  spec.scheme = PartitionScheme::kIid;
  spec.num_clients = kDataSize / kDefaultMinExamples;
  auto exact = Make(spec, data);
  ASSERT_NE(exact, nullptr);
  for (int64_t id = 0; id < spec.num_clients; ++id) {
    ASSERT_EQ(exact->NumExamplesOf(id), kDefaultMinExamples);
  }
  // Label shards have no disjoint split.
  spec.scheme = PartitionScheme::kLabelShards;
  status = ValidatePopulationSpec(spec, kClasses);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("population.partition: "));
}

TEST(ClientPopulationTest, ShardsLayoutIgnoresTheSampledCountFields) {
  PopulationSpec spec;
  spec.layout = PopulationLayout::kShards;
  spec.mean_examples = 0;
  spec.quantity_sigma = std::numeric_limits<double>::quiet_NaN();
  spec.max_examples = -1;
  EXPECT_TRUE(ValidatePopulationSpec(spec, kClasses).ok());
  spec.min_examples = 0;
  EXPECT_THAT(std::string(ValidatePopulationSpec(spec, kClasses).message()),
              HasSubstr("population.min_examples: "));
}

// The sampled layout clamps counts to the same documented minimum.
TEST(ClientPopulationTest, SampledLayoutClampsCountsToTheDefaultMinimum) {
  const ImageDataset data = BalancedData();
  PopulationSpec spec = Spec(PartitionScheme::kDirichlet);
  EXPECT_EQ(spec.min_examples, kDefaultMinExamples);
  EXPECT_EQ(kDefaultMinExamples, 10);
  spec.mean_examples = 20;
  spec.quantity_sigma = 2.0;  // Most raw counts fall below 10.
  auto population = Make(spec, data);
  ASSERT_NE(population, nullptr);
  int at_minimum = 0;
  for (int64_t id = 0; id < 2000; ++id) {
    const int64_t n = population->NumExamplesOf(id);
    ASSERT_GE(n, 10) << "client " << id;
    at_minimum += n == 10;
    if (id < 100) {
      ASSERT_EQ(population->ExamplesOf(id).size(), static_cast<size_t>(n));
    }
  }
  EXPECT_GT(at_minimum, 1000);
  // A mean below the minimum is refused, naming the field.
  spec.mean_examples = 5;
  spec.quantity_sigma = 0;
  EXPECT_THAT(std::string(ValidatePopulationSpec(spec, kClasses).message()),
              HasSubstr("population.mean_examples: "));
}

}  // namespace
}  // namespace cohort::data
