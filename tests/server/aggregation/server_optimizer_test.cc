#include "server/aggregation/server_optimizer.h"

#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

cohort::v1::Weights W(std::vector<float> v) {
  cohort::v1::Weights w;
  auto* t = w.add_tensors();
  t->set_name("w");
  t->add_shape(static_cast<int64_t>(v.size()));
  model::SetFloatData(v, t);
  return w;
}

float At(const cohort::v1::Weights& w, int i) {
  return model::FloatView(w.tensors(0))[i];
}

TEST(ServerOptimizerTest, ZeroMomentumIsFedAvg) {
  ServerOptimizer opt(1.0, 0.0);
  auto step = opt.Step(W({1, 2}), W({0.5f, -1}));
  ASSERT_TRUE(step.ok());
  EXPECT_FLOAT_EQ(At(step->weights, 0), 1.5f);
  EXPECT_FLOAT_EQ(At(step->weights, 1), 1.0f);
}

TEST(ServerOptimizerTest, MomentumAccumulatesOnlyAcceptedSteps) {
  ServerOptimizer opt(0.5, 0.9);
  auto first = opt.Step(W({0}), W({1}));
  ASSERT_TRUE(first.ok());
  EXPECT_FLOAT_EQ(At(first->weights, 0), 0.5f);  // v = 1, w += 0.5 * v
  opt.Accept(std::move(*first));
  // A step that is never accepted (failed commit) leaves no trace.
  ASSERT_TRUE(opt.Step(W({0.5f}), W({100})).ok());
  auto second = opt.Step(W({0.5f}), W({1}));
  ASSERT_TRUE(second.ok());
  // v = 0.9 * 1 + 1 = 1.9; w = 0.5 + 0.5 * 1.9 = 1.45
  EXPECT_FLOAT_EQ(At(second->weights, 0), 1.45f);
}

TEST(ServerOptimizerTest, LayoutMismatchIsInvalidArgument) {
  ServerOptimizer opt(1.0, 0.9);
  EXPECT_EQ(opt.Step(W({1, 2}), W({1})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::server
