#ifndef COHORT_SIM_OUTPUT_PLOTS_H_
#define COHORT_SIM_OUTPUT_PLOTS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::sim {

// Files WritePlots() writes into the run directory.
inline constexpr char kPlotScriptName[] = "plots.gp";
inline constexpr char kAccuracyVsRoundPng[] = "accuracy_vs_round.png";
inline constexpr char kAccuracyVsBytesUpPng[] = "accuracy_vs_bytes_up.png";

// Draws the run's learning curves with gnuplot, from <run_dir>/metrics.csv
// (as written by MetricsCsvWriter, with or without wall_seconds):
//   accuracy_vs_round.png     test_accuracy against round
//   accuracy_vs_bytes_up.png  test_accuracy against cumulative bytes_up, in
//                             MB (10^6 bytes)
// Rows whose test_accuracy is nan are not drawn, but their bytes still count
// toward the cumulative upload.
//
// The gnuplot script is kept as <run_dir>/plots.gp and reads metrics.csv by
// column name, so `cd <run_dir> && gnuplot plots.gp` redraws the plots, also
// mid-run. It uses the pngcairo terminal when gnuplot has it, else png.
// gnuplot runs with the run directory as its working directory, argv
// {gnuplot_binary, "plots.gp"}, and no shell. Blocks until gnuplot exits
// (about 100 ms).
//
// Thread-safe for distinct run directories.
//
// FAILED_PRECONDITION if metrics.csv is missing, lacks a round, bytes_up or
//   test_accuracy column, or has no row with a test_accuracy to draw.
// UNAVAILABLE if `gnuplot_binary` cannot be found or executed; the plots are
//   optional, so callers may log this and go on.
// INTERNAL if gnuplot fails (the message ends with its stderr tail), leaves a
//   PNG missing or empty, or on I/O errors.
absl::Status WritePlots(const std::string& run_dir,
                        const std::string& gnuplot_binary = "gnuplot");

// The script WritePlots() writes. `run_label` (e.g. the run's folder name)
// goes into the plot titles; quotes and control characters are made safe.
std::string MakeGnuplotScript(absl::string_view run_label);

// What CheckMetricsCsv() found.
struct MetricsCsvSummary {
  int64_t rows = 0;             // Data rows, header excluded.
  int64_t accuracy_points = 0;  // Rows with a finite test_accuracy.
};

// Checks that `csv` has what the plots need. FAILED_PRECONDITION (saying
// what is missing) if it lacks a header with round, bytes_up and
// test_accuracy, or has no finite test_accuracy.
absl::StatusOr<MetricsCsvSummary> CheckMetricsCsv(absl::string_view csv);

}  // namespace cohort::sim

#endif  // COHORT_SIM_OUTPUT_PLOTS_H_
