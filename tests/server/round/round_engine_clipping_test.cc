// RoundEngine's plain aggregation path: every update clipped to the round's
// bound (by the device, or by the coordinator when the device did not), and
// the robust aggregators in place of the mean.

#include <cmath>
#include <string>
#include <variant>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/server/round/round_engine_fixture.h"

namespace cohort::server {
namespace {

float First(const PublishedModel& m) {
  return model::FloatView(m.weights.tensors(0))[0];
}

class RoundEngineClippingTest : public RoundEngineTest {
 protected:
  // Plays one plain round whose device i reports every coordinate
  // values[i] (norm 2|v| on the 4-coordinate fake model), with
  // Report.clipped from `claims`, and runs it to its end.
  void PlayValues(RoundEngine& engine, const std::vector<float>& values,
                  const std::vector<bool>& claims) {
    const int64_t round = engine.round_id();
    for (size_t i = 0; i < values.size(); ++i) {
      auto out = engine.CheckIn(Dev(static_cast<int>(i)));
      ASSERT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(out));
    }
    for (size_t i = 0; i < values.size(); ++i) {
      cohort::v1::Report r = ReportOf(round, values[i], 10);
      r.set_clipped(claims[i]);
      ASSERT_TRUE(engine.SubmitReport(Dev(static_cast<int>(i)), r).ok());
    }
    engine.RunOnce();
  }
};

TEST_F(RoundEngineClippingTest, TheAssignmentCarriesTheBoundAndLongUpdatesAreClipped) {
  options_.goal_count = 3;
  options_.min_reports = 3;
  options_.clipping.clip_norm = 1.0;
  auto engine = MakeEngine();
  auto out = engine->CheckIn(Dev(9));
  ASSERT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(out));
  EXPECT_EQ(std::get<cohort::v1::TaskAssignment>(out).clip_norm(), 1.0);
  // Device 9 holds a slot; the round needs the three below. 0.1 fits (norm
  // 0.2) and its claim to have clipped is not believed; 2.0 did not clip
  // itself (norm 4): clipped here to 0.5; 0.5 sits at the bound (norm 1), as
  // a device's own clipping leaves it. Mean (0.1 + 0.5 + 0.5) / 3.
  PlayValues(*engine, {0.1f, 2.0f, 0.5f}, {true, false, false});
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].clip_norm, 1.0);
  EXPECT_DOUBLE_EQ(summaries_[0].clipped_fraction, 2.0 / 3.0);
  EXPECT_NEAR(First(*engine->current_model()), 1.1f / 3.0f, 1e-6);
}

TEST_F(RoundEngineClippingTest, NonFiniteUpdatesAreDroppedNotClipped) {
  options_.goal_count = 2;
  options_.min_reports = 2;
  options_.clipping.clip_norm = 1.0;
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 3), 3);
  cohort::v1::Report r = ReportOf(engine->round_id(), 0.1f, 10);
  std::vector<float> v = {0.1f, INFINITY, 0.1f, 0.1f};
  model::SetFloatData(v, r.mutable_delta()->mutable_tensors(0));
  EXPECT_EQ(engine->SubmitReport(Dev(0), r).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(engine->SubmitReport(Dev(1), ReportOf(engine->round_id(), 0.1f, 10)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(2), ReportOf(engine->round_id(), 0.3f, 10)).ok());
  engine->RunOnce();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].drops.malformed, 1);
  EXPECT_NEAR(First(*engine->current_model()), 0.2f, 1e-6);
}

TEST_F(RoundEngineClippingTest, AdaptiveBoundFollowsTheClippedShareAcrossRounds) {
  options_.goal_count = 2;
  options_.min_reports = 2;
  options_.clipping = {.clip_norm = 1.0, .adaptive = true,
                       .target_quantile = 0.5, .learning_rate = 0.2};
  auto engine = MakeEngine();
  PlayValues(*engine, {5.0f, 5.0f}, {false, false});  // all clipped
  PlayValues(*engine, {0.01f, 0.01f}, {false, false});  // none
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_EQ(summaries_[0].clip_norm, 1.0);
  EXPECT_DOUBLE_EQ(summaries_[1].clip_norm, std::exp(0.2 * 0.5));
  auto next = engine->CheckIn(Dev(0));
  ASSERT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(next));
  EXPECT_DOUBLE_EQ(std::get<cohort::v1::TaskAssignment>(next).clip_norm(), 1.0);
}

TEST_F(RoundEngineClippingTest, TheMedianReplacesTheMeanAndIgnoresAnOutlier) {
  options_.goal_count = 3;
  options_.min_reports = 3;
  options_.robust = RobustOptions{.rule = RobustOptions::Rule::kMedian};
  auto engine = MakeEngine();
  // The outlier is clipped to norm 10 (value 5) and still loses the median.
  PlayValues(*engine, {0.1f, 0.2f, -100.0f}, {false, false, false});
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_NEAR(First(*engine->current_model()), 0.1f, 1e-6);
}

TEST_F(RoundEngineClippingTest, MultiKrumWithTooFewUpdatesAbandonsTheRound) {
  options_.goal_count = 3;
  options_.min_reports = 3;
  options_.robust = RobustOptions{.rule = RobustOptions::Rule::kMultiKrum,
                                  .byzantine_devices = 1};
  auto engine = MakeEngine();
  PlayValues(*engine, {0.1f, 0.2f, 0.3f}, {false, false, false});
  EXPECT_TRUE(summaries_.empty());
  ASSERT_EQ(abandoned_.size(), 1u);
  EXPECT_EQ(engine->current_model()->version, 1);
}

}  // namespace
}  // namespace cohort::server
