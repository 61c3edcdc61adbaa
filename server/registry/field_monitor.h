#ifndef COHORT_SERVER_REGISTRY_FIELD_MONITOR_H_
#define COHORT_SERVER_REGISTRY_FIELD_MONITOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cohort/v1/coordinator.pb.h"
#include "common/secagg/field_encoding.h"

namespace cohort::server {

// What devices said about one version: FieldEvaluations received for it.
struct FieldStats {
  // Devices behind the means (a secure round's sum counts its devices).
  int64_t reports = 0;
  // Examples behind the plain reports (a secure sum does not reveal them).
  int64_t examples = 0;
  // Unweighted means over devices: each device counts once, however many
  // examples it holds, so one large device cannot swing the verdict.
  double mean_accuracy = 0;
  double mean_loss = 0;
  // Of `reports`, the devices that sent input and prediction summaries, and
  // the means over them (sized by the monitor's FieldLayout; empty when 0):
  // share of predictions per class and per confidence bin, and per input
  // feature the mean and the variance across all their examples.
  int64_t summary_reports = 0;
  std::vector<double> prediction_fraction;
  std::vector<double> confidence_fraction;
  std::vector<double> feature_mean;
  std::vector<double> feature_variance;
};

// How far the field data of `version` moved from that of `from_version`,
// the nearest earlier version with summaries.
struct FieldDrift {
  int64_t version = 0;
  int64_t from_version = 0;
  // Mean over features of |mean_a - mean_b| / max(sqrt((var_a + var_b) /
  // 2), 0.01), the standardized mean difference with the pooled standard
  // deviation floored at 0.01 (features are in [0, 1]): 0 for identical
  // inputs, about 0.1 a small shift, 1 and more a large one.
  double feature = 0;
  // Total variation distance between the prediction shares, in [0, 1].
  double prediction = 0;
  // Total variation distance between the confidence histograms, in [0, 1].
  double confidence = 0;
};

// Field monitoring (docs/LIFECYCLE.md): collects the evaluations devices
// make of the model they were given, before they train on it, with
// summaries of their inputs and of the model's predictions; judges a
// version against the one before it and measures drift between versions.
// A device's report counts once per version (a repeated device replaces its
// earlier report); a secure round's decoded sum (secagg::FieldMean) counts
// as its devices, once per round. Keeps the last kMaxVersions versions and
// at most kMaxReportsPerVersion entries per version (about 1 KB each). In
// memory only: a restarted coordinator starts counting again. Not
// thread-safe; the engine calls it under its mutex.
class FieldMonitor {
 public:
  // `min_reports` >= 1 reports per version before it is judged; a drop of
  // mean accuracy by more than `max_accuracy_drop` (a fraction) fails it.
  // Summaries are checked against `layout` (enabled).
  FieldMonitor(int min_reports, double max_accuracy_drop,
               secagg::FieldLayout layout = secagg::ImageFieldLayout());

  // Records `evaluation` from `device_id`. INVALID_ARGUMENT (nothing
  // recorded) when it names another version than `served_version` (the
  // version the device was given), num_examples outside [1, kMaxExamples],
  // a loss that is not a
  // finite number >= 0, an accuracy outside [0, 1], or a summary that fails
  // secagg::ValidateFieldSummary. RESOURCE_EXHAUSTED when the version
  // already holds kMaxReportsPerVersion entries and this device is new.
  absl::Status Record(const std::string& device_id, int64_t served_version,
                      const cohort::v1::FieldEvaluation& evaluation);

  // Records the field sum of secure round `round_id`, whose devices were
  // given `version`. INVALID_ARGUMENT for a mean with no devices or one
  // whose summary fails secagg::ValidateFieldSummary's ranges.
  absl::Status RecordSum(int64_t version, int64_t round_id,
                         const secagg::FieldMean& mean);

  // The stats of `version`; nullopt when no device reported on it.
  std::optional<FieldStats> StatsOf(int64_t version) const;

  // The drift of `version` from the nearest earlier version with summaries;
  // nullopt when either has none.
  std::optional<FieldDrift> DriftOf(int64_t version) const;

  // Why `current` must be rolled back to `previous`, or nullopt: both
  // versions have at least min_reports reports and current's mean accuracy
  // is more than max_accuracy_drop below previous's.
  std::optional<std::string> Verdict(int64_t current, int64_t previous) const;

  static constexpr int kMaxVersions = 16;
  // Largest num_examples one evaluation may claim (counts stay far from
  // int64 overflow over kMaxReportsPerVersion reports).
  static constexpr int64_t kMaxExamples = 1000000000;
  static constexpr int kMaxReportsPerVersion = 4096;

 private:
  // One device's report, or one secure round's sum standing for `devices`.
  struct Entry {
    int64_t devices = 1;
    int64_t examples = 0;
    double accuracy = 0;  // means over the entry's devices
    double loss = 0;
    // The summary means as secagg::SummaryValues lays them out; empty
    // without one.
    std::vector<double> summary;
  };
  absl::Status Put(int64_t version, const std::string& key, Entry entry);

  const int min_reports_;
  const double max_accuracy_drop_;
  const secagg::FieldLayout layout_;
  // version -> "device <id>" or "round <id>" -> its entry.
  std::map<int64_t, std::map<std::string, Entry>> reports_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_REGISTRY_FIELD_MONITOR_H_
