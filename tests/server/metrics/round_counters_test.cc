#include "server/metrics/round_counters.h"

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "tests/server/metrics/task_sample.h"
#include "tests/testing/prometheus_text.h"

namespace cohort::server {
namespace {

using ::cohort::testing::SampleLabels;

constexpr char kTask[] = "t";

// The counters as a scrape shows them.
std::string Exposition(const RoundCounters& counters) {
  return prometheus::TextSerializer().Serialize(
      counters.registry()->Collect());
}

// The sample `name` with `labels` plus task="t"; nullopt when absent.
std::optional<double> Value(const RoundCounters& counters,
                            const std::string& name, SampleLabels labels = {}) {
  return TaskSample(*counters.registry(), name, std::move(labels), kTask);
}

double Outcome(const RoundCounters& c, const std::string& outcome) {
  return Value(c, "cohort_rounds_total", {{"outcome", outcome}}).value_or(-1);
}

double Dropped(const RoundCounters& c, const std::string& cause) {
  return Value(c, "cohort_devices_dropped_total", {{"cause", cause}})
      .value_or(-1);
}

RoundSummary Committed(int64_t round_id, std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> small(0, 9);
  RoundSummary s;
  s.round_id = round_id;
  s.version = round_id + 1;
  s.assigned = 10 + small(rng);
  s.participants = 5 + small(rng);
  s.drops.timeout = small(rng);
  s.drops.disconnect = small(rng);
  s.drops.malformed = small(rng);
  s.drops.secagg = small(rng);
  s.dropped = s.drops.lost();
  s.total_examples = 100 * s.participants;
  s.train_loss = 0.25 * static_cast<double>(small(rng));
  s.duration = absl::Seconds(small(rng) + 1);
  return s;
}

RoundSummary Abandoned(AbandonCause cause, const std::string& phase) {
  RoundSummary s;
  s.round_id = 9;
  s.version = 3;
  s.assigned = 4;
  s.drops.disconnect = 2;
  s.duration = absl::Seconds(60);
  AbandonReason reason;
  reason.cause = cause;
  reason.phase = phase;
  s.abandoned = reason;
  return s;
}

TEST(RoundCountersTest, FreshCountersShowEveryOutcomeAndCauseAtZero) {
  RoundCounters counters(kTask);
  for (const char* outcome : {"committed", "held", "rolled_back", "abandoned"}) {
    EXPECT_EQ(Outcome(counters, outcome), 0) << outcome;
  }
  for (const char* cause : {"timeout", "disconnect", "malformed", "secagg"}) {
    EXPECT_EQ(Dropped(counters, cause), 0) << cause;
  }
  EXPECT_EQ(Value(counters, "cohort_round_duration_seconds_count"), 0);
  // Gauges without a value yet are absent, not zero.
  EXPECT_FALSE(Value(counters, "cohort_round_clipped_ratio").has_value());
  EXPECT_FALSE(Value(counters, "cohort_field_accuracy_ratio").has_value());
}

// Property: over random committed rounds every counter is the sum of the
// summaries, the histogram holds each duration, and gauges hold the last.
TEST(RoundCountersTest, CommittedRoundsAddUpToTheSummaries) {
  std::mt19937 rng(7);
  RoundCounters counters(kTask);
  int64_t assigned = 0, participants = 0, examples = 0;
  DropCounts drops;
  double seconds = 0;
  RoundSummary last;
  constexpr int kRounds = 25;
  for (int i = 1; i <= kRounds; ++i) {
    last = Committed(i, rng);
    assigned += last.assigned;
    participants += last.participants;
    examples += last.total_examples;
    drops.timeout += last.drops.timeout;
    drops.disconnect += last.drops.disconnect;
    drops.malformed += last.drops.malformed;
    drops.secagg += last.drops.secagg;
    seconds += absl::ToDoubleSeconds(last.duration);
    counters.Record(last);
  }
  EXPECT_EQ(Outcome(counters, "committed"), kRounds);
  EXPECT_EQ(Outcome(counters, "abandoned"), 0);
  EXPECT_EQ(Value(counters, "cohort_devices_assigned_total"), assigned);
  EXPECT_EQ(Value(counters, "cohort_round_participants_total"), participants);
  EXPECT_EQ(Value(counters, "cohort_round_examples_total"), examples);
  EXPECT_EQ(Dropped(counters, "timeout"), drops.timeout);
  EXPECT_EQ(Dropped(counters, "disconnect"), drops.disconnect);
  EXPECT_EQ(Dropped(counters, "malformed"), drops.malformed);
  EXPECT_EQ(Dropped(counters, "secagg"), drops.secagg);
  EXPECT_EQ(Value(counters, "cohort_round_duration_seconds_count"), kRounds);
  EXPECT_EQ(Value(counters, "cohort_round_duration_seconds_sum"), seconds);
  // Every duration is at most 10 s, so the 10 s bucket holds them all.
  EXPECT_EQ(Value(counters, "cohort_round_duration_seconds_bucket",
                  {{"le", "10"}}),
            kRounds);
  EXPECT_EQ(Value(counters, "cohort_round_train_loss"), last.train_loss);
}

TEST(RoundCountersTest, HeldAndRolledBackRoundsCountUnderTheirOutcome) {
  std::mt19937 rng(1);
  RoundCounters counters(kTask);
  RoundSummary held = Committed(1, rng);
  held.outcome = RoundSummary::Outcome::kHeld;
  held.train_loss = 0.5;
  counters.Record(held);
  RoundSummary rolled_back = Committed(2, rng);
  rolled_back.outcome = RoundSummary::Outcome::kRolledBack;
  rolled_back.participants = 0;
  rolled_back.train_loss = 0.0;
  counters.Record(rolled_back);
  EXPECT_EQ(Outcome(counters, "held"), 1);
  EXPECT_EQ(Outcome(counters, "rolled_back"), 1);
  EXPECT_EQ(Outcome(counters, "committed"), 0);
  EXPECT_EQ(Value(counters, "cohort_round_duration_seconds_count"), 2);
  // The rolled-back round had no result, so the held round's loss stays.
  EXPECT_EQ(Value(counters, "cohort_round_train_loss"), 0.5);
}

TEST(RoundCountersTest, AbandonedRoundsCountByCauseAndPhaseAndTheirDrops) {
  RoundCounters counters(kTask);
  counters.Record(Abandoned(AbandonCause::kSecAggAborted, "ShareKeys"));
  counters.Record(Abandoned(AbandonCause::kSecAggAborted, "ShareKeys"));
  counters.Record(Abandoned(AbandonCause::kTooFewReports, "reporting"));
  EXPECT_EQ(Outcome(counters, "abandoned"), 3);
  EXPECT_EQ(Outcome(counters, "committed"), 0);
  EXPECT_EQ(Value(counters, "cohort_rounds_abandoned_total",
                  {{"cause", "secagg_aborted"}, {"phase", "ShareKeys"}}),
            2);
  EXPECT_EQ(Value(counters, "cohort_rounds_abandoned_total",
                  {{"cause", "too_few_reports"}, {"phase", "reporting"}}),
            1);
  // Their devices count; no version came of them.
  EXPECT_EQ(Value(counters, "cohort_devices_assigned_total"), 12);
  EXPECT_EQ(Dropped(counters, "disconnect"), 6);
  EXPECT_EQ(Value(counters, "cohort_round_participants_total"), 0);
  EXPECT_EQ(Value(counters, "cohort_round_duration_seconds_count"), 0);
}

TEST(RoundCountersTest, SecAggDropsCountByPhase) {
  RoundCounters counters(kTask);
  for (const char* phase : {"AdvertiseKeys", "ShareKeys",
                            "MaskedInputCollection", "Unmasking"}) {
    EXPECT_EQ(Value(counters, "cohort_secagg_dropped_total",
                    {{"phase", phase}}),
              0)
        << phase;
  }
  RoundSummary aborted = Abandoned(AbandonCause::kSecAggAborted, "ShareKeys");
  aborted.drops.secagg_by_phase = {1, 5, 0, 0};
  counters.Record(aborted);
  std::mt19937 rng(5);
  RoundSummary done = Committed(2, rng);
  done.drops.secagg_by_phase = {2, 0, 3, 4};
  counters.Record(done);
  EXPECT_EQ(Value(counters, "cohort_secagg_dropped_total",
                  {{"phase", "AdvertiseKeys"}}),
            3);
  EXPECT_EQ(Value(counters, "cohort_secagg_dropped_total",
                  {{"phase", "ShareKeys"}}),
            5);
  EXPECT_EQ(Value(counters, "cohort_secagg_dropped_total",
                  {{"phase", "MaskedInputCollection"}}),
            3);
  EXPECT_EQ(Value(counters, "cohort_secagg_dropped_total",
                  {{"phase", "Unmasking"}}),
            4);
}

TEST(RoundCountersTest, ClippingAndFieldGaugesKeepTheirLastKnownValue) {
  std::mt19937 rng(3);
  RoundCounters counters(kTask);
  RoundSummary clipped = Committed(1, rng);
  clipped.clipped_fraction = 0.25;
  clipped.field_accuracy = 0.75;
  clipped.field_reports = 12;
  counters.Record(clipped);
  // A round without clipping or field reports (NaN) leaves them as they were.
  counters.Record(Committed(2, rng));
  EXPECT_EQ(Value(counters, "cohort_round_clipped_ratio"), 0.25);
  EXPECT_EQ(Value(counters, "cohort_field_accuracy_ratio"), 0.75);
  EXPECT_EQ(Value(counters, "cohort_field_reports"), 12);
}

TEST(RoundCountersTest, EverySampleCarriesTheTaskLabel) {
  RoundCounters counters("fashion_mnist");
  counters.Record(Abandoned(AbandonCause::kCommitFailed, "committing"));
  const std::string text = Exposition(counters);
  EXPECT_FALSE(::cohort::testing::SampleValue(
                   text, "cohort_rounds_total", {{"outcome", "abandoned"}})
                   .has_value());
  EXPECT_EQ(::cohort::testing::SampleValue(
                text, "cohort_rounds_total",
                {{"outcome", "abandoned"}, {"task", "fashion_mnist"}}),
            1);
}

}  // namespace
}  // namespace cohort::server
