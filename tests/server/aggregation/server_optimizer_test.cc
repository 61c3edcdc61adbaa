#include "server/aggregation/server_optimizer.h"

#include <cmath>
#include <limits>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using Kind = ServerOptimizerOptions::Kind;

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

ServerOptimizerOptions FedAvg(double learning_rate, double momentum) {
  return {.kind = Kind::kFedAvg,
          .learning_rate = learning_rate,
          .momentum = momentum};
}

ServerOptimizerOptions Adaptive(Kind kind) {
  return {.kind = kind, .learning_rate = 0.1, .beta1 = 0.9, .beta2 = 0.99,
          .tau = 1e-3};
}

TEST(ServerOptimizerTest, ZeroMomentumIsFedAvgAndKeepsNoState) {
  ServerOptimizer opt(FedAvg(1.0, 0.0));
  auto step = opt.Step(W({1, 2}), W({0.5f, -1}));
  ASSERT_TRUE(step.ok());
  EXPECT_FLOAT_EQ(At(step->weights, 0), 1.5f);
  EXPECT_FLOAT_EQ(At(step->weights, 1), 1.0f);
  EXPECT_EQ(step->state.optimizer(), "fedavg");
  EXPECT_EQ(step->state.first_moment().tensors_size(), 0);
}

TEST(ServerOptimizerTest, MomentumAccumulatesOnlyAcceptedSteps) {
  ServerOptimizer opt(FedAvg(0.5, 0.9));
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
  ServerOptimizer opt(FedAvg(1.0, 0.9));
  EXPECT_EQ(opt.Step(W({1, 2}), W({1})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Two steps, d = 1 then d = -2, from w = 0 with eta 0.1, beta1 0.9,
// beta2 0.99, tau 1e-3 (so v starts at 1e-6). By hand, the first step:
//   m = 0.9 * 0 + 0.1 * 1 = 0.1
//   FedAdam     v = 0.99 * 1e-6 + 0.01 * 1 = 0.01000099
//               w = 0.1 * 0.1 / (sqrt(0.01000099) + 0.001) = 0.0990050
//   FedYogi     v = 1e-6 - 0.01 * 1 * sign(1e-6 - 1) = 0.010001
//               w = 0.01 / (0.1000050 + 0.001) = 0.0990050 (5e-8 lower)
//   FedAdagrad  v = 1e-6 + 1 = 1.000001
//               w = 0.01 / (1.0000005 + 0.001) = 0.00999001
// and the second: m = 0.09 - 0.2 = -0.11,
//   FedAdam     v = 0.99 * 0.01000099 + 0.01 * 4 = 0.04990098
//   FedYogi     v = 0.010001 + 0.01 * 4 = 0.050001 (v < d^2: grows)
//   FedAdagrad  v = 1.000001 + 4 = 5.000001
//   w += 0.1 * -0.11 / (sqrt(v) + 0.001).
struct Expected {
  Kind kind;
  double v1, w1, v2, w2;
};

class AdaptiveStepTest : public ::testing::TestWithParam<Expected> {};

TEST_P(AdaptiveStepTest, MatchesTheHandComputedSteps) {
  const Expected& e = GetParam();
  ServerOptimizer opt(Adaptive(e.kind));
  auto first = opt.Step(W({0}), W({1}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NEAR(model::FloatView(first->state.first_moment().tensors(0))[0], 0.1,
              1e-7);
  // Relative to float precision: FedAdam's and FedYogi's v differ by 1e-8.
  EXPECT_NEAR(model::FloatView(first->state.second_moment().tensors(0))[0],
              e.v1, 1e-7 * e.v1);
  EXPECT_NEAR(At(first->weights, 0), e.w1, 1e-7);
  const cohort::v1::Weights w1 = first->weights;
  opt.Accept(std::move(*first));
  auto second = opt.Step(w1, W({-2}));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NEAR(model::FloatView(second->state.first_moment().tensors(0))[0],
              -0.11, 1e-7);
  EXPECT_NEAR(model::FloatView(second->state.second_moment().tensors(0))[0],
              e.v2, 1e-7 * e.v2);
  EXPECT_NEAR(At(second->weights, 0), e.w2, 1e-7);
}

INSTANTIATE_TEST_SUITE_P(
    Optimizers, AdaptiveStepTest,
    ::testing::Values(
        Expected{Kind::kFedAdam, 0.01000099, 0.0990050, 0.04990098, 0.0499822},
        Expected{Kind::kFedYogi, 0.010001, 0.0990050, 0.050001, 0.0500310},
        Expected{Kind::kFedAdagrad, 1.000001, 0.00999001, 5.000001,
                 0.00507286}));

// A restarted coordinator restores the stored state and then computes the
// very same bits as one that kept running.
TEST(ServerOptimizerTest, RestoredStateResumesBitIdentically) {
  for (Kind kind :
       {Kind::kFedAvg, Kind::kFedAdam, Kind::kFedYogi, Kind::kFedAdagrad}) {
    ServerOptimizerOptions o =
        kind == Kind::kFedAvg ? FedAvg(0.7, 0.9) : Adaptive(kind);
    ServerOptimizer running(o);
    cohort::v1::Weights w = W({0.25f, -1.5f, 3});
    for (float d : {0.3f, -0.7f, 0.05f}) {
      auto step = running.Step(w, W({d, 2 * d, -d}));
      ASSERT_TRUE(step.ok());
      w = step->weights;
      running.Accept(std::move(*step));
    }
    cohort::v1::ServerOptimizerState stored;
    ASSERT_TRUE(stored.ParseFromString(running.state().SerializeAsString()));
    ServerOptimizer restarted(o);
    ASSERT_TRUE(restarted.Restore(stored, w).ok());
    auto a = running.Step(w, W({0.4f, 0.1f, -0.2f}));
    auto b = restarted.Step(w, W({0.4f, 0.1f, -0.2f}));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->weights.SerializeAsString(), b->weights.SerializeAsString())
        << OptimizerName(kind);
    EXPECT_EQ(a->state.SerializeAsString(), b->state.SerializeAsString());
    // Without the state, the step differs: the test can fail.
    ServerOptimizer fresh(o);
    auto c = fresh.Step(w, W({0.4f, 0.1f, -0.2f}));
    ASSERT_TRUE(c.ok());
    EXPECT_NE(a->weights.SerializeAsString(), c->weights.SerializeAsString())
        << OptimizerName(kind);
  }
}

// A delta whose square overflows float saturates v instead of storing an
// inf that a restart would refuse; the step it gives stays finite.
TEST(ServerOptimizerTest, AHugeDeltaSaturatesTheSecondMoment) {
  ServerOptimizer opt(Adaptive(Kind::kFedAdagrad));
  auto step = opt.Step(W({0}), W({3e38f}));
  ASSERT_TRUE(step.ok());
  const float v = model::FloatView(step->state.second_moment().tensors(0))[0];
  EXPECT_EQ(v, std::numeric_limits<float>::max());
  EXPECT_TRUE(std::isfinite(At(step->weights, 0)));
  ServerOptimizer restarted(Adaptive(Kind::kFedAdagrad));
  EXPECT_TRUE(restarted.Restore(step->state, W({0})).ok());
}

TEST(ServerOptimizerTest, RestoreRefusesStateThatDoesNotFit) {
  ServerOptimizer opt(Adaptive(Kind::kFedAdam));
  cohort::v1::ServerOptimizerState state;
  state.set_optimizer("fedadam");
  *state.mutable_first_moment() = W({0.1f, 0.2f});
  *state.mutable_second_moment() = W({0.1f, 0.2f});
  EXPECT_TRUE(opt.Restore(state, W({1, 2})).ok());
  EXPECT_EQ(opt.Restore(state, W({1, 2, 3})).code(),
            absl::StatusCode::kDataLoss);
  *state.mutable_second_moment() = W({0.1f, -0.2f});
  EXPECT_EQ(opt.Restore(state, W({1, 2})).code(), absl::StatusCode::kDataLoss);
  state.clear_second_moment();
  EXPECT_EQ(opt.Restore(state, W({1, 2})).code(), absl::StatusCode::kDataLoss);
  // After a refusal the optimizer starts fresh.
  EXPECT_EQ(opt.state().first_moment().tensors_size(), 0);
  // Another optimizer's state (the operator switched) is not an error.
  state.set_optimizer("fedyogi");
  EXPECT_TRUE(opt.Restore(state, W({1, 2})).ok());
  EXPECT_EQ(opt.state().optimizer(), "fedadam");
  EXPECT_EQ(opt.state().first_moment().tensors_size(), 0);
}

}  // namespace
}  // namespace cohort::server

namespace cohort::server {
namespace {

// A batch norm's running variance next to a weight: the optimizer steps the
// weight and sets the statistic to w + d, clamped at 0, for every kind.
TEST(ServerOptimizerTest, RunningStatisticsTakeTheMeanDeltaAsItIs) {
  cohort::v1::Weights model = W({1.0f});
  auto* var = model.add_tensors();
  var->set_name("b.bn.running_var");
  var->add_shape(2);
  model::SetFloatData(std::vector<float>{2.0f, 0.5f}, var);
  cohort::v1::Weights delta = W({0.5f});
  auto* dvar = delta.add_tensors();
  *dvar = *var;
  model::SetFloatData(std::vector<float>{3.0f, -1.0f}, dvar);
  for (const ServerOptimizerOptions& o :
       {FedAvg(0.5, 0.9), Adaptive(Kind::kFedAdam), Adaptive(Kind::kFedYogi),
        Adaptive(Kind::kFedAdagrad)}) {
    ServerOptimizer opt(o);
    auto step = opt.Step(model, delta);
    ASSERT_TRUE(step.ok()) << step.status();
    auto v = model::FloatView(step->weights.tensors(1));
    EXPECT_FLOAT_EQ(v[0], 5.0f);
    EXPECT_FLOAT_EQ(v[1], 0.0f) << "a variance below 0 becomes 0";
    EXPECT_NE(At(step->weights, 0), 1.5f)
        << "the weight takes the optimizer's step, not w + d";
    opt.Accept(*std::move(step));
    auto again = opt.Step(model, delta);
    ASSERT_TRUE(again.ok());
    EXPECT_FLOAT_EQ(model::FloatView(again->weights.tensors(1))[0], 5.0f)
        << "no momentum carries over to a statistic";
  }
}

}  // namespace
}  // namespace cohort::server
