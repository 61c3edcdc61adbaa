#ifndef COHORT_SERVER_METRICS_ROUND_COUNTERS_H_
#define COHORT_SERVER_METRICS_ROUND_COUNTERS_H_

#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// The coordinator's Prometheus metrics that change once per round, fed by
// the round engine's observer (RoundEngine::Observer) with each
// RoundSummary. Every series carries the label task="<task>". Names follow
// the Prometheus conventions: counters end in _total, units are in the
// name (_seconds, _ratio).
//
//   cohort_rounds_total{outcome}            counter; outcome is committed,
//       held, rolled_back (the summary's RoundSummary::Outcome) or
//       abandoned. Every round ends in exactly one.
//   cohort_rounds_abandoned_total{cause,phase}  counter; the abandoned
//       rounds again, by AbandonCauseName and the phase that gave up
//       ("reporting", or the SecAgg+ phase such as "ShareKeys").
//   cohort_round_duration_seconds           histogram; opening to end of
//       each round that produced a version (not abandoned ones).
//   cohort_devices_assigned_total           counter; check-ins answered
//       with a task assignment, over all rounds.
//   cohort_round_participants_total         counter; devices whose update
//       is in a committed, held or rolled-back round's mean.
//   cohort_round_examples_total             counter; examples behind them.
//   cohort_devices_dropped_total{cause}     counter; DropCounts: timeout,
//       disconnect, malformed (refused reports), secagg.
//   cohort_secagg_dropped_total{phase}      counter; devices SecAgg+
//       dropped, by the phase they were in (SecAggServer::kPhaseNames), from
//       DropCounts::secagg_by_phase.
//   cohort_round_clipped_ratio              gauge; the last clipping
//       round's share of clipped updates (absent until a round clips).
//   cohort_round_train_loss                 gauge; the last version's mean
//       device train loss (not set under differential privacy).
//   cohort_privacy_epsilon                  gauge; under differential
//       privacy, the epsilon the task has spent at its delta (absent
//       without).
//   cohort_field_accuracy_ratio             gauge; field monitoring's mean
//       device accuracy of the version the last round trained from (absent
//       until devices report one).
//   cohort_field_reports                    gauge; the reports behind it.
//   cohort_field_drift{kind}                gauge; that version's drift
//       from the nearest earlier version with input and prediction
//       summaries (server/registry/field_monitor.h FieldDrift): kind
//       "feature" (standardized mean difference of the input features),
//       "prediction" and "confidence" (total variation distance); absent
//       until two versions have summaries.
//
// Owns its registry, which the metrics server collects from (registry()).
// Thread-safe: prometheus-cpp metrics are atomic, so Record may run on the
// driver thread while the HTTP server collects. Not copyable or movable
// (it holds references into its registry).
class RoundCounters {
 public:
  explicit RoundCounters(const std::string& task);
  RoundCounters(const RoundCounters&) = delete;
  RoundCounters& operator=(const RoundCounters&) = delete;

  // Counts one finished round (committed, held, rolled back or abandoned).
  void Record(const RoundSummary& summary);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  // The counts every round has, abandoned or not: assignments and drops.
  void RecordDevices(const RoundSummary& summary);
  // A round that produced a version: duration, participants, loss, clipping
  // and field monitoring.
  void RecordVersion(const RoundSummary& summary);
  void RecordAbandoned(const AbandonReason& reason);

  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rounds_;
  prometheus::Family<prometheus::Counter>& abandoned_;
  prometheus::Histogram& duration_;
  prometheus::Counter& assigned_;
  prometheus::Counter& participants_;
  prometheus::Counter& examples_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Counter>& secagg_dropped_;
  prometheus::Family<prometheus::Gauge>& clipped_;
  prometheus::Family<prometheus::Gauge>& epsilon_;
  prometheus::Gauge& train_loss_;
  prometheus::Family<prometheus::Gauge>& field_accuracy_;
  prometheus::Family<prometheus::Gauge>& field_reports_;
  prometheus::Family<prometheus::Gauge>& field_drift_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_ROUND_COUNTERS_H_
