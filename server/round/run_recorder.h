#ifndef COHORT_SERVER_ROUND_RUN_RECORDER_H_
#define COHORT_SERVER_ROUND_RUN_RECORDER_H_

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// Writes one progress line per committed round to `out` and, when a run
// directory is given, a row to <run_dir>/metrics.csv (flushed per row, so a
// killed run keeps every committed round). Not thread-safe; the engine calls
// its observer from one thread.
class RunRecorder {
 public:
  // INTERNAL if the run directory or file cannot be created.
  static absl::StatusOr<std::unique_ptr<RunRecorder>> Create(
      const std::string& run_dir, FILE* out);
  ~RunRecorder();

  void Record(const RoundSummary& summary);

  static constexpr char kHeader[] =
      "round,version,participants,dropped,assigned,examples,train_loss,"
      "test_loss,test_accuracy,round_seconds,wall_seconds";

 private:
  RunRecorder(FILE* csv, FILE* out) : csv_(csv), out_(out) {}
  FILE* csv_;
  FILE* out_;
  absl::Time start_ = absl::Now();
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_RUN_RECORDER_H_
