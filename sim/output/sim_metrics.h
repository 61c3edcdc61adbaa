#ifndef COHORT_SIM_OUTPUT_SIM_METRICS_H_
#define COHORT_SIM_OUTPUT_SIM_METRICS_H_

#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/round/round_metrics.h"

namespace cohort::sim {

// One simulated round, as written to metrics.csv. NaN in a double field means
// "not measured this round" (for example no evaluation) and is written "nan".
struct SimRoundRow {
  int64_t round = 0;         // 1-based.
  double sim_seconds = 0;    // Simulated time at the end of the round.
  double wall_seconds = 0;   // Real time since the run started.
  int64_t participants = 0;  // Clients whose update was aggregated.
  // Clients selected but lost: outcome.drops.lost() (a client still working
  // when the report deadline closed the round is in outcome.drops.timeout).
  int64_t dropped = 0;
  int64_t bytes_up = 0;      // Uploaded this round (not cumulative).
  int64_t bytes_down = 0;    // Downloaded this round (not cumulative).
  double train_loss = 0;
  double test_accuracy = 0;
  // The columns cohort-server's metrics.csv has too (round_metrics.h).
  server::RoundOutcome outcome;
  // On the round's reporters' local test splits (sim/personalization.h):
  // the committed global model, and each reporter's personalized model
  // (FedPer). NaN without local test splits, and personalized_accuracy
  // NaN without personal layers.
  double local_accuracy = std::numeric_limits<double>::quiet_NaN();
  double personalized_accuracy = std::numeric_limits<double>::quiet_NaN();
};

// Writes metrics.csv: a header line, then one line per Append(), flushed per
// row so a killed run keeps every finished round.
//
// Format. Comma-separated, '\n' line ends, no quoting (no field needs it).
// Integers in decimal; sim_seconds and wall_seconds with exactly 3 decimals;
// train_loss, test_accuracy, local_accuracy and personalized_accuracy with
// exactly 6. The columns between test_accuracy and local_accuracy are the
// ones cohort-server writes too, defined and formatted once in
// server/round/round_metrics.h. Doubles are rendered with
// std::to_chars, so the bytes do not depend on the locale, the libc printf or
// the platform: equal rows always give equal bytes. NaN is "nan", infinities
// "inf"/"-inf", and a value that rounds to zero is "0.000..." with no sign.
//
// Determinism. Everything but wall_seconds is a function of the simulation's
// seed and config. A determinism test must compare files after dropping the
// wall_seconds column: StripWallSeconds() does exactly that, and
// FormatRow(row, /*include_wall=*/false) gives the expected lines directly.
//
// Not thread-safe: one writer per file, called from one thread (or under the
// caller's lock). Movable only through the unique_ptr from Create().
class MetricsCsvWriter {
 public:
  // Conventional file name inside a run directory.
  static constexpr char kFileName[] = "metrics.csv";
  static constexpr char kHeader[] =
      "round,sim_seconds,wall_seconds,participants,dropped,bytes_up,"
      "bytes_down,train_loss,test_accuracy," COHORT_ROUND_OUTCOME_COLUMNS
      ",local_accuracy,personalized_accuracy";
  // Zero-based index of wall_seconds among the columns.
  static constexpr int kWallSecondsColumn = 2;

  // Creates (or truncates) `path` and writes the header line. The parent
  // directory must exist. INTERNAL if the file cannot be opened or written.
  static absl::StatusOr<std::unique_ptr<MetricsCsvWriter>> Create(
      const std::string& path);

  ~MetricsCsvWriter();
  MetricsCsvWriter(const MetricsCsvWriter&) = delete;
  MetricsCsvWriter& operator=(const MetricsCsvWriter&) = delete;

  // Writes FormatRow(row, true) and a newline, then flushes to the kernel
  // (fflush, no fsync). INTERNAL on a write error; the file may then hold a
  // partial last line.
  absl::Status Append(const SimRoundRow& row);

  // kHeader, or kHeader without ",wall_seconds". No trailing newline.
  static std::string Header(bool include_wall);

  // One CSV line for `row`, no trailing newline. With include_wall=false the
  // wall_seconds field is left out (and its comma), matching Header(false).
  static std::string FormatRow(const SimRoundRow& row, bool include_wall);

  // Removes field kWallSecondsColumn from every line of a CSV written by this
  // class, header included. Lines with fewer fields are kept as they are.
  // StripWallSeconds(Header(true) + "\n" + FormatRow(r, true) + "\n") ==
  // Header(false) + "\n" + FormatRow(r, false) + "\n".
  static std::string StripWallSeconds(absl::string_view csv);

  const std::string& path() const { return path_; }

 private:
  MetricsCsvWriter(std::string path, FILE* file)
      : path_(std::move(path)), file_(file) {}
  absl::Status WriteLine(const std::string& line);

  std::string path_;
  FILE* file_;  // Owned.
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_OUTPUT_SIM_METRICS_H_
