#include "sim/output/plots.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/errno_status.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/base/files.h"
#include "common/base/status_macros.h"
#include "sim/output/process_runner.h"
#include "sim/output/sim_metrics.h"

namespace cohort::sim {
namespace {

// Column names, not numbers, so the script survives added or removed columns
// (metrics.csv with or without wall_seconds) and can be re-run by hand.
constexpr char kScriptTemplate[] =
    R"gp(# Written by cohort-sim. Redraw with: cd <this run folder> && gnuplot plots.gp
if (strstrt(GPVAL_TERMINALS, " pngcairo ") > 0) {
  set terminal pngcairo size 960,600 noenhanced font ",11"
} else {
  set terminal png size 960,600 noenhanced
}
set datafile separator comma
set datafile columnheaders
set grid
set key off
set ylabel 'test accuracy'

# One pass over metrics.csv: every row adds its upload to the running total;
# only rows that have an accuracy (nan != nan) become points.
cum_bytes_up = 0
set table $acc
plot 'metrics.csv' using (column("round")):(cum_bytes_up = cum_bytes_up + column("bytes_up"), cum_bytes_up / 1e6):(column("test_accuracy")) with table if (column("test_accuracy") == column("test_accuracy"))
unset table
# $acc is whitespace-separated and has no header line.
set datafile separator whitespace
set datafile nocolumnheaders
# Long runs: mark about 60 points so the markers do not merge into a bar.
n_points = |$acc|
every_nth = (n_points > 60) ? int(n_points / 60) : 1

set output '%ROUND_PNG%'
set title 'Test accuracy vs round (run %LABEL%)'
set xlabel 'round'
plot $acc using 1:3 with linespoints lw 2 pt 7 ps 0.7 pi every_nth

set output '%BYTES_PNG%'
set title 'Test accuracy vs cumulative upload (run %LABEL%)'
set xlabel 'cumulative bytes uploaded by clients (MB = 10^6 bytes)'
plot $acc using 2:3 with linespoints lw 2 pt 7 ps 0.7 pi every_nth
unset output
)gp";

// Makes `text` safe inside a single-quoted gnuplot string, where the only
// special character is the quote itself (written twice).
std::string GnuplotQuoted(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out.push_back('?');
    } else if (c == '\'') {
      out.append("''");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int FindColumn(const std::vector<std::string>& header, absl::string_view name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

// The PNGs are checked after gnuplot exits, so stale ones from an earlier
// call must not count.
absl::Status RemoveIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
  return base::ErrnoError("cannot remove", path);
}

absl::Status CheckNonEmptyFile(const std::string& path,
                               const ProcessResult& gnuplot) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("gnuplot exited 0 but did not write ",
                                          path,
                                          "; stderr: ", gnuplot.stderr_tail));
}

// posix_spawnp resolves a relative path containing '/' after the child's
// chdir into the run folder, so pin it to our working directory first.
std::string ResolveBinary(const std::string& binary) {
  if (binary.find('/') == std::string::npos || binary.front() == '/') {
    return binary;
  }
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(binary, ec);
  return ec ? binary : abs.string();
}

std::string RunLabel(const std::string& run_dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(run_dir, ec);
  if (ec || p.filename().empty()) p = std::filesystem::path(run_dir);
  return p.filename().string();
}

}  // namespace

std::string MakeGnuplotScript(absl::string_view run_label) {
  return absl::StrReplaceAll(kScriptTemplate,
                             {{"%ROUND_PNG%", kAccuracyVsRoundPng},
                              {"%BYTES_PNG%", kAccuracyVsBytesUpPng},
                              {"%LABEL%", GnuplotQuoted(run_label)}});
}

absl::StatusOr<MetricsCsvSummary> CheckMetricsCsv(absl::string_view csv) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(csv, '\n', absl::SkipWhitespace());
  if (lines.empty()) {
    return absl::FailedPreconditionError("metrics.csv is empty");
  }
  std::vector<std::string> header =
      absl::StrSplit(absl::StripSuffix(lines[0], "\r"), ',');
  int accuracy_col = FindColumn(header, "test_accuracy");
  for (absl::string_view needed : {"round", "bytes_up", "test_accuracy"}) {
    if (FindColumn(header, needed) < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "metrics.csv header has no ", needed, " column: ", lines[0]));
    }
  }
  MetricsCsvSummary summary;
  for (size_t i = 1; i < lines.size(); ++i) {
    ++summary.rows;
    std::vector<absl::string_view> fields = absl::StrSplit(lines[i], ',');
    double accuracy = 0;
    if (accuracy_col < static_cast<int>(fields.size()) &&
        absl::SimpleAtod(fields[accuracy_col], &accuracy) &&
        std::isfinite(accuracy)) {
      ++summary.accuracy_points;
    }
  }
  if (summary.accuracy_points == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics.csv has ", summary.rows,
                     " rows but none with a test_accuracy to plot"));
  }
  return summary;
}

absl::Status WritePlots(const std::string& run_dir,
                        const std::string& gnuplot_binary) {
  std::string csv_path =
      absl::StrCat(run_dir, "/", MetricsCsvWriter::kFileName);
  absl::StatusOr<std::string> csv = base::ReadFile(csv_path);
  if (absl::IsNotFound(csv.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("nothing to plot: ", csv.status().message()));
  }
  if (!csv.ok()) return csv.status();
  COHORT_RETURN_IF_ERROR(CheckMetricsCsv(*csv).status());

  const std::string round_png = absl::StrCat(run_dir, "/", kAccuracyVsRoundPng);
  const std::string bytes_png =
      absl::StrCat(run_dir, "/", kAccuracyVsBytesUpPng);
  COHORT_RETURN_IF_ERROR(RemoveIfPresent(round_png));
  COHORT_RETURN_IF_ERROR(RemoveIfPresent(bytes_png));
  COHORT_RETURN_IF_ERROR(
      base::WriteFileAtomically(absl::StrCat(run_dir, "/", kPlotScriptName),
                                MakeGnuplotScript(RunLabel(run_dir))));

  absl::StatusOr<ProcessResult> gnuplot =
      RunProcess({ResolveBinary(gnuplot_binary), kPlotScriptName}, run_dir);
  if (absl::IsUnavailable(gnuplot.status())) {
    return absl::UnavailableError(absl::StrCat(
        "gnuplot is not available (", gnuplot.status().message(),
        "); install it (Debian: apt install gnuplot-nox) or skip plots"));
  }
  if (!gnuplot.ok()) return gnuplot.status();
  if (!gnuplot->ok()) {
    std::string how =
        gnuplot->term_signal != 0
            ? absl::StrCat("was killed by signal ", gnuplot->term_signal)
            : absl::StrCat("exited with ", gnuplot->exit_code);
    return absl::InternalError(
        absl::StrCat(gnuplot_binary, " ", kPlotScriptName, " in ", run_dir, " ",
                     how, "; stderr: ", gnuplot->stderr_tail));
  }
  COHORT_RETURN_IF_ERROR(CheckNonEmptyFile(round_png, *gnuplot));
  COHORT_RETURN_IF_ERROR(CheckNonEmptyFile(bytes_png, *gnuplot));
  return absl::OkStatus();
}

}  // namespace cohort::sim
