#include "common/base/kill_point.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>

#include "gtest/gtest.h"

namespace cohort::base {
namespace {

TEST(ParseKillSpecTest, PointAloneKillsAtTheFirstArrival) {
  auto spec = ParseKillSpec("server.signed");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->point, "server.signed");
  EXPECT_EQ(spec->hit, 1);
}

TEST(ParseKillSpecTest, CountNamesTheArrival) {
  auto spec = ParseKillSpec("server.secagg.Unmasking#3");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->point, "server.secagg.Unmasking");
  EXPECT_EQ(spec->hit, 3);
}

TEST(ParseKillSpecTest, EmptyPointsAndBadCountsAreRefused) {
  EXPECT_FALSE(ParseKillSpec("").has_value());
  EXPECT_FALSE(ParseKillSpec("#2").has_value());
  EXPECT_FALSE(ParseKillSpec("agent.trained#0").has_value());
  EXPECT_FALSE(ParseKillSpec("agent.trained#-1").has_value());
  EXPECT_FALSE(ParseKillSpec("agent.trained#two").has_value());
  EXPECT_FALSE(ParseKillSpec("agent.trained#").has_value());
}

// The armed point is read once per process, so each case runs in a fresh
// process ("threadsafe" death tests re-run the test binary).
TEST(KillPointDeathTest, ArmedPointKillsAtItsArmedArrivalOnly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_EQ(setenv("COHORT_KILL_AT", "unit.step#2", 1), 0);
  EXPECT_EXIT(
      {
        KillPoint("unit.other");
        KillPoint("unit.step");
        KillPoint("unit.steps");
        std::fprintf(stderr, "alive after the first arrival\n");
        KillPoint("unit.step");
        std::fprintf(stderr, "alive after the second arrival\n");
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "alive after the first arrival");
  unsetenv("COHORT_KILL_AT");
}

TEST(KillPointDeathTest, UnarmedOrMalformedSpecKillsNothing) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const char* spec : {"", "unit.step#0"}) {
    ASSERT_EQ(setenv("COHORT_KILL_AT", spec, 1), 0);
    EXPECT_EXIT(
        {
          for (int i = 0; i < 3; ++i) KillPoint("unit.step");
          std::exit(KillPointArmed() ? 1 : 0);
        },
        ::testing::ExitedWithCode(0), "")
        << spec;
  }
  unsetenv("COHORT_KILL_AT");
}

}  // namespace
}  // namespace cohort::base
