#include "server/metrics/live_gauges.h"

#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "tests/testing/prometheus_text.h"

namespace cohort::server {
namespace {

using ::cohort::testing::SampleLabels;

std::optional<double> Value(const LiveGauges& gauges, const std::string& name) {
  const std::string text =
      prometheus::TextSerializer().Serialize(gauges.Collect());
  return ::cohort::testing::SampleValue(text, name, SampleLabels{{"task", "t"}});
}

std::shared_ptr<const PublishedModel> Model(int64_t version, int64_t release) {
  auto model = std::make_shared<PublishedModel>();
  model->version = version;
  model->release = release;
  model->metrics = {{"test_accuracy", 0.75}, {"test_loss", 0.5}};
  return model;
}

TEST(LiveGaugesTest, ReportsTheCurrentVersionPauseAndConnections) {
  LiveState state;
  auto model = std::make_shared<PublishedModel>(*Model(7, 3));
  model->pinned = true;
  state.model = model;
  state.paused = true;
  state.connections = ConnectionCounts{
      .accepted = 5, .refused = 2, .shed = 1, .open = 3, .unauthenticated = 1};
  LiveGauges gauges("t", [&state] { return state; });

  EXPECT_EQ(Value(gauges, "cohort_model_version"), 7);
  EXPECT_EQ(Value(gauges, "cohort_model_release"), 3);
  EXPECT_EQ(Value(gauges, "cohort_release_pinned"), 1);
  EXPECT_EQ(Value(gauges, "cohort_task_paused"), 1);
  EXPECT_EQ(Value(gauges, "cohort_holdout_accuracy_ratio"), 0.75);
  EXPECT_EQ(Value(gauges, "cohort_holdout_loss"), 0.5);
  EXPECT_EQ(Value(gauges, "cohort_connections_accepted_total"), 5);
  EXPECT_EQ(Value(gauges, "cohort_connections_refused_total"), 2);
  EXPECT_EQ(Value(gauges, "cohort_connections_shed_total"), 1);
  EXPECT_EQ(Value(gauges, "cohort_connections_open"), 3);
  EXPECT_EQ(Value(gauges, "cohort_connections_unauthenticated"), 1);
}

// A rollback by hand changes the version without a round ending: the next
// scrape shows it.
TEST(LiveGaugesTest, EveryScrapeReadsTheSourceAgain) {
  LiveState state;
  state.model = Model(4, 4);
  LiveGauges gauges("t", [&state] { return state; });
  EXPECT_EQ(Value(gauges, "cohort_model_version"), 4);
  state.model = Model(5, 6);
  EXPECT_EQ(Value(gauges, "cohort_model_version"), 5);
  EXPECT_EQ(Value(gauges, "cohort_model_release"), 6);
  EXPECT_EQ(Value(gauges, "cohort_task_paused"), 0);
}

TEST(LiveGaugesTest, WhatIsNotKnownIsAbsent) {
  LiveState state;
  LiveGauges gauges("t", [&state] { return state; });
  EXPECT_EQ(Value(gauges, "cohort_task_paused"), 0);
  EXPECT_FALSE(Value(gauges, "cohort_model_version").has_value());
  EXPECT_FALSE(Value(gauges, "cohort_connections_open").has_value());
  // A version without holdout metrics has no accuracy gauge.
  auto bare = std::make_shared<PublishedModel>();
  bare->version = 1;
  state.model = bare;
  EXPECT_EQ(Value(gauges, "cohort_model_version"), 1);
  EXPECT_FALSE(Value(gauges, "cohort_holdout_accuracy_ratio").has_value());
}

}  // namespace
}  // namespace cohort::server
