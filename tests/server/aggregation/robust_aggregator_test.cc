#include "server/aggregation/robust_aggregator.h"

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

// Two tensors of 3 and 4 values, filled from `flat`.
cohort::v1::Weights Make(const std::vector<float>& flat) {
  cohort::v1::Weights w;
  size_t at = 0;
  for (int size : {3, 4}) {
    auto* t = w.add_tensors();
    t->set_name(absl::StrCat("t", size));
    t->add_shape(size);
    model::SetFloatData(std::vector<float>(flat.begin() + at,
                                           flat.begin() + at + size),
                        t);
    at += static_cast<size_t>(size);
  }
  return w;
}

std::vector<float> Flat(const cohort::v1::Weights& w) {
  std::vector<float> out;
  for (const auto& t : w.tensors()) {
    auto v = model::FloatView(t);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::vector<std::vector<float>> RandomUpdates(int n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> updates(n, std::vector<float>(7));
  for (auto& u : updates) {
    for (float& v : u) v = normal(gen);
  }
  return updates;
}

std::vector<float> Aggregate(const RobustOptions& options,
                             const std::vector<std::vector<float>>& updates) {
  const cohort::v1::Weights model = Make(std::vector<float>(7, 0.0f));
  RobustAggregator agg(model, options);
  for (size_t i = 0; i < updates.size(); ++i) {
    // Example counts must not matter: each device counts once.
    EXPECT_TRUE(agg.Accumulate(Make(updates[i]), 1 + 1000 * (i % 2)).ok());
  }
  auto mean = std::move(agg).MeanDelta(model);
  EXPECT_TRUE(mean.ok()) << mean.status();
  return mean.ok() ? Flat(*mean) : std::vector<float>();
}

// The reference: sort each coordinate's values, average ranks [lo, hi).
std::vector<double> SortedRanksMean(const std::vector<std::vector<float>>& u,
                                    size_t lo, size_t hi) {
  std::vector<double> out;
  for (size_t j = 0; j < u.front().size(); ++j) {
    std::vector<double> column;
    for (const auto& x : u) column.push_back(x[j]);
    std::sort(column.begin(), column.end());
    double sum = 0.0;
    for (size_t i = lo; i < hi; ++i) sum += column[i];
    out.push_back(sum / static_cast<double>(hi - lo));
  }
  return out;
}

TEST(RobustAggregatorTest, TrimmedMeanMatchesSortingEachCoordinate) {
  for (int n : {1, 2, 5, 10, 21}) {
    for (double beta : {0.1, 0.2, 0.45}) {
      const auto updates = RandomUpdates(n, static_cast<uint32_t>(n * 100 + beta * 100));
      RobustOptions o;
      o.rule = RobustOptions::Rule::kTrimmedMean;
      o.trim_fraction = beta;
      const size_t cut = static_cast<size_t>(beta * n);
      const auto want = SortedRanksMean(updates, cut, n - cut);
      const auto got = Aggregate(o, updates);
      ASSERT_EQ(got.size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) {
        EXPECT_NEAR(got[j], want[j], 1e-6) << "n=" << n << " beta=" << beta;
      }
    }
  }
}

TEST(RobustAggregatorTest, MedianMatchesSortingEachCoordinate) {
  for (int n : {1, 2, 3, 8, 15}) {
    const auto updates = RandomUpdates(n, static_cast<uint32_t>(n));
    RobustOptions o;
    o.rule = RobustOptions::Rule::kMedian;
    const size_t lo = (n - 1) / 2, hi = n / 2 + 1;
    const auto want = SortedRanksMean(updates, lo, hi);
    const auto got = Aggregate(o, updates);
    for (size_t j = 0; j < want.size(); ++j) {
      EXPECT_NEAR(got[j], want[j], 1e-6) << "n=" << n;
    }
  }
}

TEST(RobustAggregatorTest, CoordinateWiseRulesIgnoreAMinorityOfHugeValues) {
  auto updates = RandomUpdates(10, 7);
  updates[3].assign(7, 1e6f);
  updates[8].assign(7, -1e6f);
  for (auto rule : {RobustOptions::Rule::kTrimmedMean, RobustOptions::Rule::kMedian}) {
    RobustOptions o;
    o.rule = rule;
    o.trim_fraction = 0.2;
    for (float v : Aggregate(o, updates)) EXPECT_LT(std::abs(v), 3.0f) << RuleName(rule);
  }
}

// The reference: score every update by sorting all its distances.
std::vector<double> BruteForceKrum(const std::vector<std::vector<float>>& u,
                                   size_t f, size_t m) {
  const size_t n = u.size();
  std::vector<std::pair<double, size_t>> scores;
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> d;
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double s = 0.0;
      for (size_t k = 0; k < u[i].size(); ++k) {
        s += (double(u[i][k]) - u[j][k]) * (double(u[i][k]) - u[j][k]);
      }
      d.push_back(s);
    }
    std::sort(d.begin(), d.end());
    double score = 0.0;
    for (size_t k = 0; k < n - f - 2; ++k) score += d[k];
    scores.emplace_back(score, i);
  }
  std::sort(scores.begin(), scores.end());
  std::vector<double> out(u.front().size(), 0.0);
  for (size_t k = 0; k < m; ++k) {
    for (size_t j = 0; j < out.size(); ++j) out[j] += u[scores[k].second][j] / double(m);
  }
  return out;
}

TEST(RobustAggregatorTest, MultiKrumMatchesBruteForceScoring) {
  for (int n : {5, 9, 16}) {
    for (int f : {0, 1, (n - 3) / 2}) {
      for (int m : {0, 1, 3}) {
        const auto updates = RandomUpdates(n, static_cast<uint32_t>(n * 31 + f * 7 + m));
        RobustOptions o;
        o.rule = RobustOptions::Rule::kMultiKrum;
        o.byzantine_devices = f;
        o.krum_selected = m;
        const size_t selected = m == 0 ? n - f : std::min<size_t>(m, n - f);
        const auto want = BruteForceKrum(updates, f, selected);
        const auto got = Aggregate(o, updates);
        for (size_t j = 0; j < want.size(); ++j) {
          EXPECT_NEAR(got[j], want[j], 1e-5) << "n=" << n << " f=" << f << " m=" << m;
        }
      }
    }
  }
}

TEST(RobustAggregatorTest, MultiKrumLeavesOutScaledUpdates) {
  auto updates = RandomUpdates(12, 3);
  for (int i : {0, 5}) {
    for (float& v : updates[i]) v *= -50.0f;
  }
  RobustOptions o;
  o.rule = RobustOptions::Rule::kMultiKrum;
  o.byzantine_devices = 2;
  std::vector<std::vector<float>> honest;
  for (int i = 0; i < 12; ++i) {
    if (i != 0 && i != 5) honest.push_back(updates[i]);
  }
  // n - f = 10 selected: exactly the honest ones.
  const auto want = SortedRanksMean(honest, 0, honest.size());
  const auto got = Aggregate(o, updates);
  for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-5);
}

TEST(RobustAggregatorTest, RefusesTooFewUpdatesAndBadInput) {
  const cohort::v1::Weights model = Make(std::vector<float>(7, 0.0f));
  RobustOptions o;
  o.rule = RobustOptions::Rule::kMultiKrum;
  o.byzantine_devices = 2;
  RobustAggregator krum(model, o);
  for (const auto& u : RandomUpdates(6, 1)) ASSERT_TRUE(krum.Accumulate(Make(u), 5).ok());
  EXPECT_EQ(std::move(krum).MeanDelta(model).status().code(),
            absl::StatusCode::kFailedPrecondition);

  RobustAggregator empty(model, RobustOptions{});
  EXPECT_EQ(std::move(empty).MeanDelta(model).status().code(),
            absl::StatusCode::kFailedPrecondition);

  RobustAggregator agg(model, RobustOptions{});
  EXPECT_EQ(agg.Accumulate(Make(std::vector<float>(7, 1.0f)), 0).code(),
            absl::StatusCode::kInvalidArgument);
  cohort::v1::Weights wrong = Make(std::vector<float>(7, 1.0f));
  wrong.mutable_tensors()->RemoveLast();
  EXPECT_EQ(agg.Accumulate(wrong, 3).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(agg.num_clients(), 0);
}

}  // namespace
}  // namespace cohort::server
