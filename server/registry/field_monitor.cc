#include "server/registry/field_monitor.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace cohort::server {
namespace {

constexpr double kStdFloor = 0.01;

// Weighted running means of the entries' concatenated summaries.
struct SummaryMeans {
  int64_t devices = 0;
  std::vector<double> sum;

  void Add(const std::vector<double>& summary, int64_t devices_behind) {
    if (summary.empty()) return;
    sum.resize(summary.size(), 0.0);
    for (size_t i = 0; i < summary.size(); ++i) {
      sum[i] += summary[i] * static_cast<double>(devices_behind);
    }
    devices += devices_behind;
  }
};

// Copies `n` means from `at` on into `out`.
std::vector<double> Take(const SummaryMeans& m, size_t* at, int n) {
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) {
    out[i] = m.sum[(*at)++] / static_cast<double>(m.devices);
  }
  return out;
}

double TotalVariation(const std::vector<double>& a,
                      const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += std::abs(a[i] - b[i]);
  return d / 2;
}

}  // namespace

FieldMonitor::FieldMonitor(int min_reports, double max_accuracy_drop,
                           secagg::FieldLayout layout)
    : min_reports_(min_reports),
      max_accuracy_drop_(max_accuracy_drop),
      layout_(layout) {}

absl::Status FieldMonitor::Record(
    const std::string& device_id, int64_t served_version,
    const cohort::v1::FieldEvaluation& e) {
  if (e.version() != served_version) {
    return absl::InvalidArgumentError(
        absl::StrCat("field evaluation names version ", e.version(),
                     " but the device was given version ", served_version));
  }
  if (e.num_examples() < 1 || e.num_examples() > kMaxExamples ||
      !std::isfinite(e.loss()) || e.loss() < 0 ||
      !(e.accuracy() >= 0 && e.accuracy() <= 1)) {
    return absl::InvalidArgumentError(
        "field evaluation needs num_examples in [1, 1e9], a finite loss >= 0 "
        "and an accuracy in [0, 1]");
  }
  Entry entry{.devices = 1,
              .examples = e.num_examples(),
              .accuracy = e.accuracy(),
              .loss = e.loss(),
              .summary = {}};
  if (e.has_summary()) {
    if (absl::Status s = secagg::ValidateFieldSummary(layout_, e.summary());
        !s.ok()) {
      return s;
    }
    entry.summary = secagg::SummaryValues(e.summary());
  }
  return Put(served_version, absl::StrCat("device ", device_id),
             std::move(entry));
}

absl::Status FieldMonitor::RecordSum(int64_t version, int64_t round_id,
                                     const secagg::FieldMean& mean) {
  if (mean.devices < 1) {
    return absl::InvalidArgumentError("a field sum needs at least one device");
  }
  if (absl::Status s = secagg::ValidateFieldSummary(layout_, mean.summary);
      !s.ok()) {
    return s;
  }
  return Put(version, absl::StrCat("round ", round_id),
             Entry{.devices = mean.devices,
                   .accuracy = mean.accuracy,
                   .loss = mean.loss,
                   .summary = secagg::SummaryValues(mean.summary)});
}

absl::Status FieldMonitor::Put(int64_t version, const std::string& key,
                               Entry entry) {
  auto& entries = reports_[version];
  if (!entries.contains(key) &&
      entries.size() >= static_cast<size_t>(kMaxReportsPerVersion)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("version ", version, " already holds ",
                     kMaxReportsPerVersion, " field reports"));
  }
  entries[key] = std::move(entry);
  while (reports_.size() > kMaxVersions) reports_.erase(reports_.begin());
  return absl::OkStatus();
}

std::optional<FieldStats> FieldMonitor::StatsOf(int64_t version) const {
  auto it = reports_.find(version);
  if (it == reports_.end() || it->second.empty()) return std::nullopt;
  FieldStats stats;
  SummaryMeans summaries;
  for (const auto& [key, e] : it->second) {
    stats.reports += e.devices;
    stats.examples += e.examples;
    stats.mean_accuracy += e.accuracy * static_cast<double>(e.devices);
    stats.mean_loss += e.loss * static_cast<double>(e.devices);
    summaries.Add(e.summary, e.devices);
  }
  stats.mean_accuracy /= static_cast<double>(stats.reports);
  stats.mean_loss /= static_cast<double>(stats.reports);
  stats.summary_reports = summaries.devices;
  if (summaries.devices == 0) return stats;
  size_t at = 0;
  stats.prediction_fraction = Take(summaries, &at, layout_.classes);
  stats.confidence_fraction = Take(summaries, &at, layout_.confidence_bins);
  stats.feature_mean = Take(summaries, &at, layout_.features);
  stats.feature_variance = Take(summaries, &at, layout_.features);
  for (int i = 0; i < layout_.features; ++i) {
    const double m = stats.feature_mean[i];
    stats.feature_variance[i] = std::max(0.0, stats.feature_variance[i] - m * m);
  }
  return stats;
}

std::optional<FieldDrift> FieldMonitor::DriftOf(int64_t version) const {
  std::optional<FieldStats> now = StatsOf(version);
  if (!now.has_value() || now->summary_reports == 0) return std::nullopt;
  for (auto it = reports_.lower_bound(version); it != reports_.begin();) {
    --it;
    std::optional<FieldStats> before = StatsOf(it->first);
    if (!before.has_value() || before->summary_reports == 0) continue;
    FieldDrift d{.version = version, .from_version = it->first};
    for (int i = 0; i < layout_.features; ++i) {
      const double pooled = std::sqrt(
          (now->feature_variance[i] + before->feature_variance[i]) / 2);
      d.feature += std::abs(now->feature_mean[i] - before->feature_mean[i]) /
                   std::max(pooled, kStdFloor);
    }
    d.feature /= static_cast<double>(layout_.features);
    d.prediction =
        TotalVariation(now->prediction_fraction, before->prediction_fraction);
    d.confidence =
        TotalVariation(now->confidence_fraction, before->confidence_fraction);
    return d;
  }
  return std::nullopt;
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
