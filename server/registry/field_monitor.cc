#include "server/registry/field_monitor.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace cohort::server {

FieldMonitor::FieldMonitor(int min_reports, double max_accuracy_drop)
    : min_reports_(min_reports), max_accuracy_drop_(max_accuracy_drop) {}

absl::Status FieldMonitor::Record(
    const std::string& device_id, int64_t served_version,
    const cohort::v1::FieldEvaluation& e) {
  if (e.version() != served_version) {
    return absl::InvalidArgumentError(
        absl::StrCat("field evaluation names version ", e.version(),
                     " but the device was given version ", served_version));
  }
  if (e.num_examples() < 1 || !std::isfinite(e.loss()) || e.loss() < 0 ||
      !(e.accuracy() >= 0 && e.accuracy() <= 1)) {
    return absl::InvalidArgumentError(
        "field evaluation needs num_examples >= 1, a finite loss >= 0 and "
        "an accuracy in [0, 1]");
  }
  reports_[served_version][device_id] =
      Report{e.num_examples(), e.loss(), e.accuracy()};
  while (reports_.size() > kMaxVersions) reports_.erase(reports_.begin());
  return absl::OkStatus();
}

std::optional<FieldStats> FieldMonitor::StatsOf(int64_t version) const {
  auto it = reports_.find(version);
  if (it == reports_.end() || it->second.empty()) return std::nullopt;
  FieldStats stats;
  for (const auto& [device, r] : it->second) {
    ++stats.reports;
    stats.examples += r.examples;
    stats.mean_accuracy += r.accuracy;
    stats.mean_loss += r.loss;
  }
  stats.mean_accuracy /= static_cast<double>(stats.reports);
  stats.mean_loss /= static_cast<double>(stats.reports);
  return stats;
}

std::optional<std::string> FieldMonitor::Verdict(int64_t current,
                                                 int64_t previous) const {
  std::optional<FieldStats> now = StatsOf(current);
  std::optional<FieldStats> before = StatsOf(previous);
  if (!now.has_value() || !before.has_value() ||
      now->reports < min_reports_ || before->reports < min_reports_) {
    return std::nullopt;
  }
  const double drop = before->mean_accuracy - now->mean_accuracy;
  if (!(drop > max_accuracy_drop_)) return std::nullopt;
  return absl::StrCat("field accuracy of version ", current, " is ",
                      now->mean_accuracy, " over ", now->reports,
                      " device reports, ", drop, " below version ", previous,
                      "'s ", before->mean_accuracy, " over ", before->reports,
                      " (allowed drop ", max_accuracy_drop_, ")");
}

}  // namespace cohort::server
