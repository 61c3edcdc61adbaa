#ifndef COHORT_SERVER_REGISTRY_FIELD_MONITOR_H_
#define COHORT_SERVER_REGISTRY_FIELD_MONITOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::server {

// What devices said about one version: FieldEvaluations received for it.
struct FieldStats {
  int64_t reports = 0;
  int64_t examples = 0;
  // Unweighted means over reports: each device counts once, however many
  // examples it holds, so one large device cannot swing the verdict.
  double mean_accuracy = 0;
  double mean_loss = 0;
};

// Field monitoring (docs/LIFECYCLE.md): collects the evaluations devices
// make of the model they were given, before they train on it, and judges a
// version against the one before it. A device's report counts once per
// version (a repeated device replaces its earlier report). Keeps the last
// kMaxVersions versions. In memory only: a restarted coordinator starts
// counting again. Not thread-safe; the engine calls it under its mutex.
class FieldMonitor {
 public:
  // `min_reports` >= 1 reports per version before it is judged; a drop of
  // mean accuracy by more than `max_accuracy_drop` (a fraction) fails it.
  FieldMonitor(int min_reports, double max_accuracy_drop);

  // Records `evaluation` from `device_id`. INVALID_ARGUMENT (nothing
  // recorded) when it names another version than `served_version` (the
  // version the device was given), num_examples < 1, a loss that is not a
  // finite number >= 0, or an accuracy outside [0, 1].
  absl::Status Record(const std::string& device_id, int64_t served_version,
                      const cohort::v1::FieldEvaluation& evaluation);

  // The stats of `version`; nullopt when no device reported on it.
  std::optional<FieldStats> StatsOf(int64_t version) const;

  // Why `current` must be rolled back to `previous`, or nullopt: both
  // versions have at least min_reports reports and current's mean accuracy
  // is more than max_accuracy_drop below previous's.
  std::optional<std::string> Verdict(int64_t current, int64_t previous) const;

  static constexpr int kMaxVersions = 16;

 private:
  struct Report {
    int64_t examples;
    double loss;
    double accuracy;
  };
  const int min_reports_;
  const double max_accuracy_drop_;
  // version -> device id -> its report.
  std::map<int64_t, std::map<std::string, Report>> reports_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_REGISTRY_FIELD_MONITOR_H_
