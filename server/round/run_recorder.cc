#include "server/round/run_recorder.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"

namespace cohort::server {
namespace {

double Metric(const RoundSummary& s, const std::string& key) {
  auto it = s.metrics.find(key);
  return it == s.metrics.end() ? 0.0 : it->second;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunRecorder>> RunRecorder::Create(
    const std::string& run_dir, FILE* out) {
  FILE* csv = nullptr;
  if (!run_dir.empty()) {
    COHORT_RETURN_IF_ERROR(base::MakeDirs(run_dir));
    std::string path = run_dir + "/metrics.csv";
    csv = std::fopen(path.c_str(), "w");
    if (csv == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
    }
    std::fprintf(csv, "%s\n", kHeader);
    std::fflush(csv);
  }
  return std::unique_ptr<RunRecorder>(new RunRecorder(csv, out));
}

RunRecorder::~RunRecorder() {
  if (csv_ != nullptr) std::fclose(csv_);
}

void RunRecorder::Record(const RoundSummary& s) {
  const double wall = absl::ToDoubleSeconds(absl::Now() - start_);
  const double acc = Metric(s, "test_accuracy");
  if (csv_ != nullptr) {
    std::fprintf(csv_, "%s\n",
                 absl::StrFormat("%d,%d,%d,%d,%d,%d,%.6f,%.6f,%.6f,%.3f,%.3f",
                                 s.round_id, s.version, s.participants,
                                 s.dropped, s.assigned, s.total_examples,
                                 s.train_loss, Metric(s, "test_loss"), acc,
                                 absl::ToDoubleSeconds(s.duration), wall)
                     .c_str());
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

}  // namespace cohort::server
