#include "common/base/step_monitor.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace cohort::base {
namespace {

using ::testing::HasSubstr;

TEST(StepMonitorTest, CheckIdleIsOkHoweverLong) {
  testing::FakeClock clock;
  StepMonitor steps(&clock);
  clock.Advance(absl::Hours(24 * 365));
  EXPECT_TRUE(steps.Check().ok());
  EXPECT_EQ(steps.Describe(), "idle; 0 steps done");
}

TEST(StepMonitorTest, CheckStepOkUntilDueThenDeadlineExceeded) {
  testing::FakeClock clock;  // 2023-11-14 22:13:20 UTC
  StepMonitor steps(&clock);
  steps.Begin("training", clock.Now() + absl::Minutes(10));
  EXPECT_TRUE(steps.Check().ok());
  EXPECT_EQ(steps.Describe(),
            "training since 2023-11-14 22:13:20 UTC, due by "
            "2023-11-14 22:23:20 UTC");
  clock.Advance(absl::Minutes(10));
  EXPECT_TRUE(steps.Check().ok());  // due is inclusive
  clock.Advance(absl::Seconds(1));
  absl::Status overdue = steps.Check();
  EXPECT_EQ(overdue.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(overdue.message(), HasSubstr("training running since "
                                           "2023-11-14 22:13:20 UTC"));
  EXPECT_THAT(overdue.message(), HasSubstr("due by 2023-11-14 22:23:20 UTC"));
}

TEST(StepMonitorTest, EndOverdueStepIsOkAgainAndCounted) {
  testing::FakeClock clock;
  StepMonitor steps(&clock);
  steps.Begin("evaluation", clock.Now() + absl::Seconds(1));
  clock.Advance(absl::Minutes(1));
  ASSERT_FALSE(steps.Check().ok());
  steps.End();
  EXPECT_TRUE(steps.Check().ok());
  steps.End();  // idle: nothing to end
  EXPECT_EQ(steps.steps_ended(), 1);
  EXPECT_EQ(steps.Describe(), "idle; 1 steps done");
}

TEST(StepMonitorTest, BeginReplacesStepInProgress) {
  testing::FakeClock clock;
  StepMonitor steps(&clock);
  steps.Begin("first", clock.Now() + absl::Seconds(1));
  steps.Begin("second", clock.Now() + absl::Hours(1));
  clock.Advance(absl::Minutes(1));
  EXPECT_TRUE(steps.Check().ok());
  EXPECT_THAT(steps.Describe(), HasSubstr("second since"));
}

TEST(StepMonitorTest, CheckInfiniteDueNeverOverdue) {
  testing::FakeClock clock;
  StepMonitor steps(&clock);
  steps.Begin("training", absl::InfiniteFuture());
  clock.Advance(absl::Hours(24 * 365));
  EXPECT_TRUE(steps.Check().ok());
  EXPECT_THAT(steps.Describe(), HasSubstr("due by never"));
}

}  // namespace
}  // namespace cohort::base
