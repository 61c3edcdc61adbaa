// RoundEngine with a model that has batch norm running statistics: they are
// clipped apart from the weights and read back in their own units
// (common/model/running_statistics.h), and agents that do not know the
// rule are turned away.

#include <string>
#include <variant>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "server/round/device_session.h"
#include "tests/server/round/round_engine_fixture.h"

namespace cohort::server {
namespace {

class RoundEngineStatisticsTest : public RoundEngineTest {
 protected:
  void SetUp() override {
    RoundEngineTest::SetUp();
    // "w" (4 values, 0) and "bn.running_var" (2 values, 0.5).
    model_ = FakeTaskModel(4, 2, "bn.running_var");
    options_.goal_count = 2;
    options_.min_reports = 2;
    options_.over_selection = 1.0;
    options_.clipping.clip_norm = 1.0;
    options_.clipping.statistics_clip_norm = 5.0;
  }

  // A check-in through a DeviceSession, from an agent that says (or does
  // not say) it clips statistics apart.
  static absl::StatusOr<CheckInOutcome> CheckInAs(RoundEngine& engine,
                                                  const std::string& device,
                                                  bool clips_apart) {
    DeviceSession session(&engine, nullptr, "");
    cohort::v1::CheckIn hello;
    hello.set_device_id(device);
    hello.mutable_capabilities()->set_clips_statistics_apart(clips_apart);
    return session.CheckIn(hello);
  }

  // Every "w" value `w` and every statistic `s`, in update units.
  cohort::v1::Report Report(int64_t round, float w, float s) {
    cohort::v1::Report r = ReportOf(round, w, 10);
    auto* t = r.mutable_delta()->add_tensors();
    t->set_name("bn.running_var");
    t->add_shape(2);
    model::SetFloatData(std::vector<float>{s, s}, t);
    return r;
  }
};

TEST_F(RoundEngineStatisticsTest, StatisticsAreClippedApartAndReadInTheirUnits) {
  auto engine = MakeEngine();
  const int64_t round = engine->round_id();
  for (int i = 0; i < 2; ++i) {
    auto out = engine->CheckIn(Dev(i));
    ASSERT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(out));
    const auto& a = std::get<cohort::v1::TaskAssignment>(out);
    EXPECT_EQ(a.clip_norm(), 1.0);
    EXPECT_EQ(a.statistics_clip_norm(), 5.0);
  }
  // Device 0 within both bounds (weights norm 0.2, statistics 0.141);
  // device 1's statistics (norm 2.83 in update units) are clipped here to
  // 1, i.e. 0.707 each, and its weights are not touched.
  ASSERT_TRUE(engine->SubmitReport(Dev(0), Report(round, 0.1f, 0.1f)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(1), Report(round, 0.3f, 2.0f)).ok());
  engine->RunOnce();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_DOUBLE_EQ(summaries_[0].clipped_fraction, 0.5);
  const cohort::v1::Weights& w = engine->current_model()->weights;
  EXPECT_NEAR(model::FloatView(w.tensors(0))[0], 0.2f, 1e-6)
      << "the weights' mean, unclipped";
  // 0.5 + (S / C) * mean(0.1, 0.7071) = 0.5 + 5 * 0.40355.
  EXPECT_NEAR(model::FloatView(w.tensors(1))[0], 0.5 + 5 * 0.403553, 1e-4);
}

TEST_F(RoundEngineStatisticsTest, AgentsThatDoNotClipStatisticsApartAreRefused) {
  auto engine = MakeEngine();
  auto refused = CheckInAs(*engine, "old", false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("running statistics"),
            std::string::npos)
      << refused.status();
  auto assigned = CheckInAs(*engine, "new", true);
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  EXPECT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(*assigned));
}

TEST_F(RoundEngineStatisticsTest, ModelsWithoutStatisticsKeepOneBound) {
  model_ = FakeTaskModel(4, 2);  // "head.weight": not a statistic
  auto engine = MakeEngine();
  EXPECT_FALSE(engine->has_running_statistics());
  auto out = CheckInAs(*engine, "old", false);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(*out));
  EXPECT_EQ(std::get<cohort::v1::TaskAssignment>(*out).statistics_clip_norm(),
            0.0);
}

}  // namespace
}  // namespace cohort::server
