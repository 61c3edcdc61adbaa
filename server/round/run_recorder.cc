#include "server/round/run_recorder.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/errno_status.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "glog/logging.h"

namespace cohort::server {
namespace {

double Metric(const RoundSummary& s, const std::string& key) {
  auto it = s.metrics.find(key);
  return it == s.metrics.end() ? 0.0 : it->second;
}

// Opens <run_dir>/metrics.csv for appending, so a restarted coordinator adds
// rows after the earlier rounds. A file written with another column set is
// moved aside (to metrics.csv.<unix seconds>) rather than mixed with it.
absl::StatusOr<FILE*> OpenMetricsCsv(const std::string& run_dir) {
  COHORT_RETURN_IF_ERROR(base::EnsureWritableDir(run_dir, "run_dir"));
  const std::string path = run_dir + "/metrics.csv";
  std::string first_line;
  if (auto existing = base::ReadFile(path); existing.ok()) {
    first_line = existing->substr(0, existing->find('\n'));
  }
  if (!first_line.empty() && first_line != RunRecorder::kHeader) {
    const std::string aside =
        absl::StrCat(path, ".", absl::ToUnixSeconds(absl::Now()));
    if (std::rename(path.c_str(), aside.c_str()) != 0) {
      return base::ErrnoError(absl::StrCat("cannot move to ", aside), path);
    }
    LOG(WARNING) << path << " had other columns; moved it to " << aside;
    first_line.clear();
  }
  FILE* csv = std::fopen(path.c_str(), "a");
  if (csv == nullptr) {
    return base::ErrnoError("cannot open", path);
  }
  if (first_line.empty()) std::fprintf(csv, "%s\n", RunRecorder::kHeader);
  std::fflush(csv);
  return csv;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunRecorder>> RunRecorder::Create(
    const std::string& run_dir, FILE* out) {
  FILE* csv = nullptr;
  if (!run_dir.empty()) {
    COHORT_ASSIGN_OR_RETURN(csv, OpenMetricsCsv(run_dir));
  }
  return std::unique_ptr<RunRecorder>(new RunRecorder(csv, out));
}

RunRecorder::~RunRecorder() {
  if (csv_ != nullptr) std::fclose(csv_);
}

void RunRecorder::Record(const RoundSummary& s) {
  if (s.abandoned.has_value()) {
    RecordAbandoned(s);
    return;
  }
  const double wall = absl::ToDoubleSeconds(absl::Now() - start_);
  const double acc = Metric(s, "test_accuracy");
  const RoundOutcome outcome = s.outcome_columns(abandoned_since_row_);
  abandoned_since_row_ = 0;
  if (csv_ != nullptr) {
    std::fprintf(csv_, "%s,%s\n",
                 absl::StrFormat("%d,%d,%d,%d,%d,%d,%.6f,%.6f,%.6f,%.3f,%.3f",
                                 s.round_id, s.version, s.participants,
                                 s.dropped, s.assigned, s.total_examples,
                                 s.train_loss, Metric(s, "test_loss"), acc,
                                 absl::ToDoubleSeconds(s.duration), wall)
                     .c_str(),
                 FormatRoundOutcome(outcome).c_str());
    std::fflush(csv_);
  }
  if (out_ != nullptr) {
    std::fprintf(out_, "%s\n",
                 absl::StrFormat("round %3d  version %3d  clients %d/%d  "
                                 "dropped %d  train_loss %.4f  "
                                 "test_accuracy %.4f  %.1fs",
                                 s.round_id, s.version, s.participants,
                                 s.assigned, s.dropped, s.train_loss, acc,
                                 absl::ToDoubleSeconds(s.duration))
                     .c_str());
    std::fflush(out_);
  }
}

void RunRecorder::RecordAbandoned(const RoundSummary& s) {
  ++abandoned_since_row_;
  if (out_ == nullptr) return;
  std::fprintf(out_, "round %3d  abandoned: %s\n",
               static_cast<int>(s.round_id), s.abandoned->ToString().c_str());
  std::fflush(out_);
}

}  // namespace cohort::server
