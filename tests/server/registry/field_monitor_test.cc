#include "server/registry/field_monitor.h"

#include <limits>

#include "gtest/gtest.h"

namespace cohort::server {
namespace {

cohort::v1::FieldEvaluation Eval(int64_t version, double accuracy,
                                 double loss = 0.5, int64_t examples = 20) {
  cohort::v1::FieldEvaluation e;
  e.set_version(version);
  e.set_accuracy(accuracy);
  e.set_loss(loss);
  e.set_num_examples(examples);
  return e;
}

void Feed(FieldMonitor& m, int64_t version, int devices, double accuracy) {
  for (int i = 0; i < devices; ++i) {
    ASSERT_TRUE(m.Record("d" + std::to_string(i), version,
                         Eval(version, accuracy))
                    .ok());
  }
}

TEST(FieldMonitorTest, StatsAreUnweightedMeansPerDevice) {
  FieldMonitor m(1, 0.05);
  ASSERT_TRUE(m.Record("a", 3, Eval(3, 0.9, 0.2, 1000)).ok());
  ASSERT_TRUE(m.Record("b", 3, Eval(3, 0.5, 0.6, 10)).ok());
  auto stats = m.StatsOf(3);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->reports, 2);
  EXPECT_EQ(stats->examples, 1010);
  EXPECT_DOUBLE_EQ(stats->mean_accuracy, 0.7);
  EXPECT_DOUBLE_EQ(stats->mean_loss, 0.4);
  EXPECT_FALSE(m.StatsOf(4).has_value());
}

TEST(FieldMonitorTest, ARepeatedDeviceCountsOnce) {
  FieldMonitor m(1, 0.05);
  ASSERT_TRUE(m.Record("a", 3, Eval(3, 0.1)).ok());
  ASSERT_TRUE(m.Record("a", 3, Eval(3, 0.3)).ok());
  EXPECT_EQ(m.StatsOf(3)->reports, 1);
  EXPECT_DOUBLE_EQ(m.StatsOf(3)->mean_accuracy, 0.3);
}

TEST(FieldMonitorTest, RefusesMalformedEvaluations) {
  FieldMonitor m(1, 0.05);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(m.Record("a", 3, Eval(2, 0.5)).code(),
            absl::StatusCode::kInvalidArgument);  // not the served version
  EXPECT_EQ(m.Record("a", 3, Eval(3, 1.5)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Record("a", 3, Eval(3, nan)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Record("a", 3, Eval(3, 0.5, -1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Record("a", 3, Eval(3, 0.5, nan)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Record("a", 3, Eval(3, 0.5, 0.5, 0)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(m.StatsOf(3).has_value());
}

TEST(FieldMonitorTest, VerdictNeedsEnoughReportsOnBothVersions) {
  FieldMonitor m(3, 0.05);
  Feed(m, 1, 3, 0.8);
  Feed(m, 2, 2, 0.2);
  EXPECT_FALSE(m.Verdict(2, 1).has_value());
  Feed(m, 2, 3, 0.2);
  auto verdict = m.Verdict(2, 1);
  ASSERT_TRUE(verdict.has_value());
  EXPECT_NE(verdict->find("version 2"), std::string::npos) << *verdict;
  EXPECT_FALSE(m.Verdict(2, 7).has_value());  // nothing known of 7
}

TEST(FieldMonitorTest, ADropWithinTheMarginPasses) {
  FieldMonitor m(2, 0.05);
  Feed(m, 1, 2, 0.80);
  Feed(m, 2, 2, 0.76);
  EXPECT_FALSE(m.Verdict(2, 1).has_value());
  Feed(m, 3, 2, 0.70);
  EXPECT_TRUE(m.Verdict(3, 2).has_value());
  EXPECT_FALSE(m.Verdict(1, 3).has_value());  // a rise never rolls back
}

TEST(FieldMonitorTest, ForgetsOldVersions) {
  FieldMonitor m(1, 0.05);
  for (int v = 1; v <= FieldMonitor::kMaxVersions + 4; ++v) Feed(m, v, 1, 0.5);
  EXPECT_FALSE(m.StatsOf(1).has_value());
  EXPECT_TRUE(m.StatsOf(FieldMonitor::kMaxVersions + 4).has_value());
}

}  // namespace
}  // namespace cohort::server
