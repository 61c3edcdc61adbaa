#include "server/registry/field_monitor.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"
#include "tests/testing/field_summaries.h"

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

using testing::ImageEvaluation;
using testing::ImageSummary;

TEST(FieldMonitorTest, SummariesAverageOverDevicesThatSentOne) {
  FieldMonitor m(1, 0.05);
  ASSERT_TRUE(m.Record("a", 2, ImageEvaluation(2, 0.8, 1, 0.2)).ok());
  ASSERT_TRUE(m.Record("b", 2, ImageEvaluation(2, 0.6, 3, 0.4)).ok());
  ASSERT_TRUE(m.Record("c", 2, Eval(2, 0.4)).ok());  // no summary
  auto stats = m.StatsOf(2);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->reports, 3);
  EXPECT_EQ(stats->summary_reports, 2);
  EXPECT_NEAR(stats->mean_accuracy, 0.6, 1e-12);
  EXPECT_DOUBLE_EQ(stats->prediction_fraction[1], 0.5);
  EXPECT_DOUBLE_EQ(stats->prediction_fraction[3], 0.5);
  EXPECT_DOUBLE_EQ(stats->confidence_fraction[9], 1.0);
  EXPECT_NEAR(stats->feature_mean[0], 0.3, 1e-12);
  // Pooled over both devices' examples: E[x^2] - E[x]^2 =
  // ((0.04 + 0.01) + (0.16 + 0.01)) / 2 - 0.09 = 0.02.
  EXPECT_NEAR(stats->feature_variance[0], 0.02, 1e-12);
}

TEST(FieldMonitorTest, ASecureSumCountsAsItsDevices) {
  FieldMonitor m(1, 0.05);
  ASSERT_TRUE(m.Record("a", 4, ImageEvaluation(4, 1.0, 0, 0.5)).ok());
  secagg::FieldMean sum{.devices = 3, .accuracy = 0.6, .loss = 1.0,
                        .summary = ImageSummary(2, 9, 0.1, 0.01)};
  ASSERT_TRUE(m.RecordSum(4, /*round_id=*/17, sum).ok());
  auto stats = m.StatsOf(4);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->reports, 4);
  EXPECT_EQ(stats->summary_reports, 4);
  EXPECT_NEAR(stats->mean_accuracy, 0.7, 1e-12);
  EXPECT_NEAR(stats->prediction_fraction[2], 0.75, 1e-12);
  EXPECT_NEAR(stats->feature_mean[5], 0.2, 1e-12);
  // The same round again replaces its entry; a sum of no devices or with a
  // malformed summary is refused.
  ASSERT_TRUE(m.RecordSum(4, 17, sum).ok());
  EXPECT_EQ(m.StatsOf(4)->reports, 4);
  EXPECT_FALSE(m.RecordSum(4, 18, secagg::FieldMean{}).ok());
  sum.summary.mutable_confidence_fraction()->RemoveLast();
  EXPECT_FALSE(m.RecordSum(4, 18, sum).ok());
}

TEST(FieldMonitorTest, ExampleCountsAreBounded) {
  FieldMonitor m(1, 0.05);
  EXPECT_FALSE(m.Record("a", 1, Eval(1, 0.5, 0.5, FieldMonitor::kMaxExamples + 1))
                   .ok());
  EXPECT_FALSE(m.Record("b", 1, Eval(1, 0.5, 0.5, INT64_MAX)).ok());
  EXPECT_TRUE(m.Record("c", 1, Eval(1, 0.5, 0.5, FieldMonitor::kMaxExamples)).ok());
  EXPECT_EQ(m.StatsOf(1)->examples, FieldMonitor::kMaxExamples);
}

TEST(FieldMonitorTest, AMalformedSummaryIsRefusedWhole) {
  FieldMonitor m(1, 0.05);
  auto e = ImageEvaluation(2, 0.8, 1, 0.2);
  e.mutable_summary()->set_feature_mean(3, 1.5);
  EXPECT_EQ(m.Record("a", 2, e).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(m.StatsOf(2).has_value());
}

TEST(FieldMonitorTest, DriftIsMeasuredAgainstTheLastVersionWithSummaries) {
  FieldMonitor m(1, 0.05);
  ASSERT_TRUE(m.Record("a", 1, ImageEvaluation(1, 0.8, 1, 0.30)).ok());
  ASSERT_TRUE(m.Record("a", 2, Eval(2, 0.8)).ok());  // no summary
  ASSERT_TRUE(m.Record("a", 3, ImageEvaluation(3, 0.8, 1, 0.30)).ok());
  ASSERT_TRUE(m.Record("a", 4, ImageEvaluation(4, 0.8, 2, 0.35)).ok());
  EXPECT_FALSE(m.DriftOf(1).has_value());
  EXPECT_FALSE(m.DriftOf(2).has_value());
  auto same = m.DriftOf(3);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->from_version, 1);
  EXPECT_NEAR(same->feature, 0.0, 1e-9);
  EXPECT_NEAR(same->prediction, 0.0, 1e-12);
  auto moved = m.DriftOf(4);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->from_version, 3);
  // Every feature moved 0.05 at a standard deviation of 0.1: 0.5.
  EXPECT_NEAR(moved->feature, 0.5, 1e-9);
  EXPECT_NEAR(moved->prediction, 1.0, 1e-12);
  EXPECT_NEAR(moved->confidence, 0.0, 1e-12);
}

TEST(FieldMonitorTest, AVersionHoldsABoundedNumberOfReports) {
  FieldMonitor m(1, 0.05);
  for (int i = 0; i < FieldMonitor::kMaxReportsPerVersion; ++i) {
    ASSERT_TRUE(m.Record("d" + std::to_string(i), 1, Eval(1, 0.5)).ok());
  }
  EXPECT_EQ(m.Record("one-more", 1, Eval(1, 0.5)).code(),
            absl::StatusCode::kResourceExhausted);
  // A device already counted may still replace its report.
  EXPECT_TRUE(m.Record("d0", 1, Eval(1, 0.9)).ok());
  EXPECT_EQ(m.StatsOf(1)->reports, FieldMonitor::kMaxReportsPerVersion);
}

}  // namespace
}  // namespace cohort::server
