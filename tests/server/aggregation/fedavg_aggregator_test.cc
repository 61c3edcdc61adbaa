#include "server/aggregation/fedavg_aggregator.h"

#include <cmath>
#include <random>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

cohort::v1::Weights Make(std::vector<float> a, std::vector<float> b) {
  cohort::v1::Weights w;
  auto* t0 = w.add_tensors();
  t0->set_name("a");
  t0->add_shape(a.size());
  model::SetFloatData(a, t0);
  auto* t1 = w.add_tensors();
  t1->set_name("b");
  t1->add_shape(b.size());
  model::SetFloatData(b, t1);
  return w;
}

TEST(FedAvgAggregatorTest, MeanDeltaIsExampleWeightedMean) {
  auto model = Make({1, 1}, {0});
  FedAvgAggregator agg(model);
  ASSERT_TRUE(agg.Accumulate(Make({1, 0}, {3}), 1).ok());
  ASSERT_TRUE(agg.Accumulate(Make({0, 1}, {-1}), 3).ok());
  EXPECT_EQ(agg.num_clients(), 2);
  EXPECT_EQ(agg.total_examples(), 4);
  auto out = std::move(agg).MeanDelta(model);
  ASSERT_TRUE(out.ok()) << out.status();
  auto a = model::FloatView(out->tensors(0));
  auto b = model::FloatView(out->tensors(1));
  EXPECT_FLOAT_EQ(a[0], 0.25f);
  EXPECT_FLOAT_EQ(a[1], 0.75f);
  EXPECT_FLOAT_EQ(b[0], 0.0f);
  EXPECT_EQ(out->tensors(1).name(), "b");
}

TEST(FedAvgAggregatorTest, ResultMatchesDirectMeanForRandomUpdates) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const int kClients = 50, kDim = 33;
  std::vector<float> zeros(kDim, 0.0f);
  auto model = Make(zeros, {0});
  FedAvgAggregator agg(model);
  std::vector<double> expected(kDim, 0.0);
  int64_t total = 0;
  for (int c = 0; c < kClients; ++c) {
    std::vector<float> d(kDim);
    for (float& x : d) x = normal(rng);
    int64_t n = 1 + c % 7;
    for (int j = 0; j < kDim; ++j) expected[j] += n * d[j];
    total += n;
    ASSERT_TRUE(agg.Accumulate(Make(d, {0}), n).ok());
  }
  auto out = std::move(agg).MeanDelta(model);
  ASSERT_TRUE(out.ok());
  auto a = model::FloatView(out->tensors(0));
  for (int j = 0; j < kDim; ++j) EXPECT_NEAR(a[j], expected[j] / total, 1e-5);
}

// A model large enough to be added on several threads, whose ranges cross
// the tensor boundary, over 35 updates: the mean
// is the one-thread mean bit for bit, and the direct mean.
TEST(FedAvgAggregatorTest, SeveralThreadsGiveTheOneThreadMeanExactly) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const size_t kA = 300001, kB = 123457;  // 2^18 < kA + kB
  auto model = Make(std::vector<float>(kA), std::vector<float>(kB));
  FedAvgAggregator one(model, 1), three(model, 3);
  std::vector<double> expected(kA + kB, 0.0);
  int64_t total = 0;
  for (int c = 0; c < 35; ++c) {
    std::vector<float> a(kA), b(kB);
    for (float& x : a) x = normal(rng);
    for (float& x : b) x = normal(rng);
    const int n = 1 + c % 5;
    for (size_t j = 0; j < kA; ++j) expected[j] += n * a[j];
    for (size_t j = 0; j < kB; ++j) expected[kA + j] += n * b[j];
    total += n;
    const auto delta = Make(a, b);
    ASSERT_TRUE(one.Accumulate(delta, n).ok());
    ASSERT_TRUE(three.Accumulate(delta, n).ok());
  }
  auto x = std::move(one).MeanDelta(model);
  auto y = std::move(three).MeanDelta(model);
  ASSERT_TRUE(x.ok() && y.ok());
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(x->tensors(t).data(), y->tensors(t).data()) << t;
  }
  auto b = model::FloatView(y->tensors(1));
  for (size_t j = 0; j < kB; j += 997) {
    EXPECT_NEAR(b[j], expected[kA + j] / total, 1e-5) << j;
  }
}

// 200,000 updates of 0.1: a float running sum drifts by more than 1e-3 of
// the mean (checked here, as the reason for the double sum), the double sum
// stays within float rounding of it.
TEST(FedAvgAggregatorTest, DoubleSumKeepsPrecisionOverManyUpdates) {
  const int kClients = 200000;
  auto model = Make({0}, {0});
  FedAvgAggregator agg(model);
  const auto delta = Make({0.1f}, {-3.0f});
  float naive = 0;
  for (int c = 0; c < kClients; ++c) {
    ASSERT_TRUE(agg.Accumulate(delta, 1).ok());
    naive += 0.1f;
  }
  EXPECT_GT(std::abs(naive / kClients - 0.1f), 1e-3 * 0.1f);
  auto out = std::move(agg).MeanDelta(model);
  ASSERT_TRUE(out.ok());
  EXPECT_NEAR(model::FloatView(out->tensors(0))[0], 0.1f, 1e-6 * 0.1f);
  EXPECT_NEAR(model::FloatView(out->tensors(1))[0], -3.0f, 1e-6 * 3.0f);
}

TEST(FedAvgAggregatorTest, RejectsBadInputAndEmptyMean) {
  auto model = Make({1, 1}, {0});
  FedAvgAggregator agg(model);
  EXPECT_EQ(agg.Accumulate(Make({1, 0}, {3}), 0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(agg.Accumulate(Make({1}, {3}), 2).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(agg.num_clients(), 0);
  EXPECT_EQ(std::move(agg).MeanDelta(model).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cohort::server
