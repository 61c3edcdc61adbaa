#include "server/metrics/round_counters.h"

#include <cmath>
#include <utility>

#include "absl/time/time.h"
#include "server/metrics/families.h"
#include "server/round/round_outcome.h"
#include "server/secagg/secagg_server.h"

namespace cohort::server {
namespace {

using prometheus::Counter;
using prometheus::Histogram;

constexpr char kAbandoned[] = "abandoned";

// Rounds run from seconds (a simulator-sized cohort) to hours (a fleet
// waiting for idle, charging devices).
Histogram::BucketBoundaries DurationBuckets() {
  return {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200};
}

// The outcome names of metrics.csv's `release` column, so both say the same.
std::string OutcomeName(RoundSummary::Outcome outcome) {
  RoundSummary s;
  s.outcome = outcome;
  return s.outcome_columns(0).release;
}

// The DropCounts causes, named like metrics.csv's dropped_<cause> columns.
void AddDrops(prometheus::Family<Counter>& family, const DropCounts& d) {
  const std::pair<const char*, int64_t> by_cause[] = {
      {"timeout", d.timeout},
      {"disconnect", d.disconnect},
      {"malformed", d.malformed},
      {"secagg", d.secagg}};
  for (const auto& [cause, n] : by_cause) {
    family.Add({{"cause", cause}}).Increment(static_cast<double>(n));
  }
}

void AddSecAggDrops(prometheus::Family<Counter>& family, const DropCounts& d) {
  const auto& names = secagg::SecAggServer::kPhaseNames;
  for (size_t i = 0; i < names.size(); ++i) {
    family.Add({{"phase", names[i]}})
        .Increment(static_cast<double>(d.secagg_by_phase[i]));
  }
}

}  // namespace

RoundCounters::RoundCounters(const std::string& task)
    : registry_(std::make_shared<prometheus::Registry>()),
      rounds_(MakeFamily(
          prometheus::BuildCounter(), *registry_, task, "cohort_rounds_total",
          "Rounds ended, by outcome: committed, held (the regression gate kept "
          "the version from release), rolled_back (field monitoring rolled "
          "back the version the round trained from) or abandoned.")),
      abandoned_(MakeFamily(
          prometheus::BuildCounter(), *registry_, task,
          "cohort_rounds_abandoned_total",
          "Rounds abandoned, by cause and by the phase that gave up (the "
          "round phase, or the SecAgg+ phase).")),
      duration_(MakeFamily(prometheus::BuildHistogram(), *registry_, task,
                           "cohort_round_duration_seconds",
                           "Seconds from a round's opening to its end, for "
                           "rounds that produced a version.")
                    .Add({}, DurationBuckets())),
      assigned_(MakeFamily(prometheus::BuildCounter(), *registry_, task,
                           "cohort_devices_assigned_total",
                           "Check-ins answered with a task assignment.")
                    .Add({})),
      participants_(MakeFamily(prometheus::BuildCounter(), *registry_, task,
                               "cohort_round_participants_total",
                               "Devices whose update is in a committed or "
                               "held version.")
                        .Add({})),
      examples_(MakeFamily(prometheus::BuildCounter(), *registry_, task,
                           "cohort_round_examples_total",
                           "Training examples behind those updates.")
                    .Add({})),
      dropped_(MakeFamily(
          prometheus::BuildCounter(), *registry_, task,
          "cohort_devices_dropped_total",
          "Assigned devices whose update is missing from their round, by "
          "cause: timeout, disconnect, malformed (report refused) or secagg.")),
      secagg_dropped_(MakeFamily(
          prometheus::BuildCounter(), *registry_, task,
          "cohort_secagg_dropped_total",
          "Devices SecAgg+ dropped, by the phase they were in; one dropped in "
          "Unmasking still has its input in the sum.")),
      clipped_(MakeFamily(prometheus::BuildGauge(), *registry_, task,
                          "cohort_round_clipped_ratio",
                          "Share of the last clipping round's updates that "
                          "clipping changed.")),
      epsilon_(MakeFamily(prometheus::BuildGauge(), *registry_, task,
                          "cohort_privacy_epsilon",
                          "Differential privacy spent by the task so far: "
                          "epsilon at the configured delta.")),
      train_loss_(MakeFamily(prometheus::BuildGauge(), *registry_, task,
                             "cohort_round_train_loss",
                             "Example-weighted mean device train loss of the "
                             "last committed or held version.")
                      .Add({})),
      field_accuracy_(MakeFamily(
          prometheus::BuildGauge(), *registry_, task,
          "cohort_field_accuracy_ratio",
          "Field monitoring: mean accuracy devices measured on the version "
          "the last round trained from.")),
      field_reports_(MakeFamily(prometheus::BuildGauge(), *registry_, task,
                                "cohort_field_reports",
                                "Field reports behind "
                                "cohort_field_accuracy_ratio.")),
      field_drift_(MakeFamily(
          prometheus::BuildGauge(), *registry_, task, "cohort_field_drift",
          "Field monitoring: drift of the version the last round trained "
          "from against the nearest earlier version with summaries, by "
          "kind (feature: standardized mean difference; prediction and "
          "confidence: total variation distance).")) {
  // Every outcome and cause from zero, so rate() sees the first increment.
  for (auto outcome :
       {RoundSummary::Outcome::kCommitted, RoundSummary::Outcome::kHeld,
        RoundSummary::Outcome::kRolledBack}) {
    rounds_.Add({{"outcome", OutcomeName(outcome)}});
  }
  rounds_.Add({{"outcome", kAbandoned}});
  AddDrops(dropped_, DropCounts{});
  AddSecAggDrops(secagg_dropped_, DropCounts{});
}

void RoundCounters::Record(const RoundSummary& summary) {
  RecordDevices(summary);
  if (summary.abandoned.has_value()) {
    RecordAbandoned(*summary.abandoned);
    return;
  }
  RecordVersion(summary);
}

void RoundCounters::RecordDevices(const RoundSummary& summary) {
  assigned_.Increment(static_cast<double>(summary.assigned));
  AddDrops(dropped_, summary.drops);
  AddSecAggDrops(secagg_dropped_, summary.drops);
}

void RoundCounters::RecordVersion(const RoundSummary& summary) {
  rounds_.Add({{"outcome", OutcomeName(summary.outcome)}}).Increment();
  duration_.Observe(absl::ToDoubleSeconds(summary.duration));
  participants_.Increment(static_cast<double>(summary.participants));
  examples_.Increment(static_cast<double>(summary.total_examples));
  // A rolled-back round's own result was dropped: it has no train loss.
  if (summary.outcome != RoundSummary::Outcome::kRolledBack &&
      !std::isnan(summary.train_loss)) {
    train_loss_.Set(summary.train_loss);
  }
  if (!std::isnan(summary.clipped_fraction)) {
    clipped_.Add({}).Set(summary.clipped_fraction);
  }
  if (!std::isnan(summary.epsilon)) epsilon_.Add({}).Set(summary.epsilon);
  if (!std::isnan(summary.field_accuracy)) {
    field_accuracy_.Add({}).Set(summary.field_accuracy);
    field_reports_.Add({}).Set(static_cast<double>(summary.field_reports));
  }
  if (!std::isnan(summary.field_feature_drift)) {
    field_drift_.Add({{"kind", "feature"}}).Set(summary.field_feature_drift);
    field_drift_.Add({{"kind", "prediction"}})
        .Set(summary.field_prediction_drift);
    field_drift_.Add({{"kind", "confidence"}})
        .Set(summary.field_confidence_drift);
  }
}

void RoundCounters::RecordAbandoned(const AbandonReason& reason) {
  rounds_.Add({{"outcome", kAbandoned}}).Increment();
  abandoned_
      .Add({{"cause", AbandonCauseName(reason.cause)},
            {"phase", reason.phase.empty() ? "unknown" : reason.phase}})
      .Increment();
}

}  // namespace cohort::server
