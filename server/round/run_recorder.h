#ifndef COHORT_SERVER_ROUND_RUN_RECORDER_H_
#define COHORT_SERVER_ROUND_RUN_RECORDER_H_

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/round/round_engine.h"
#include "server/round/round_metrics.h"

namespace cohort::server {

// Writes one progress line per committed round to `out` and, when a run
// directory is given, a row appended to <run_dir>/metrics.csv (flushed per
// row, so a killed run keeps every committed round, and a restart adds to
// the rows before it). Not thread-safe; the engine calls its observer from
// one thread.
class RunRecorder {
 public:
  // INTERNAL if the run directory or file cannot be created.
  static absl::StatusOr<std::unique_ptr<RunRecorder>> Create(
      const std::string& run_dir, FILE* out);
  ~RunRecorder();

  // A committed round writes a row and a progress line; an abandoned one
  // (summary.abandoned) writes its reason as a progress line and is counted
  // in the next row's abandoned_rounds.
  void Record(const RoundSummary& summary);

  // The recorder's own columns, then the ones cohort-sim shares
  // (round_metrics.h); `dropped` is DropCounts::lost().
  static constexpr char kHeader[] =
      "round,version,participants,dropped,assigned,examples,train_loss,"
      "test_loss,test_accuracy,round_seconds,wall_seconds,"
      COHORT_ROUND_OUTCOME_COLUMNS;

 private:
  RunRecorder(FILE* csv, FILE* out) : csv_(csv), out_(out) {}
  void RecordAbandoned(const RoundSummary& summary);
  FILE* csv_;
  FILE* out_;
  absl::Time start_ = absl::Now();
  int64_t abandoned_since_row_ = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_RUN_RECORDER_H_
