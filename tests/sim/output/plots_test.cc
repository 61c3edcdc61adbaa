#include "sim/output/plots.h"

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "common/base/files.h"
#include "gtest/gtest.h"
#include "sim/output/sim_metrics.h"
#include "tests/sim/output/test_dir.h"

namespace cohort::sim {
namespace {

constexpr char kPngMagic[] = "\x89PNG\r\n\x1a\n";

// A small run: accuracy rises, measured every other round, 1.5 MB up each.
std::string SmallMetricsCsv(bool include_wall, int rounds = 12) {
  std::string csv = MetricsCsvWriter::Header(include_wall) + "\n";
  for (int r = 1; r <= rounds; ++r) {
    SimRoundRow row;
    row.round = r;
    row.sim_seconds = 30.0 * r;
    row.wall_seconds = 0.1 * r;
    row.participants = 50;
    row.dropped = r % 3;
    row.bytes_up = 1500000;
    row.bytes_down = 3000000;
    row.train_loss = 2.0 / r;
    row.test_accuracy =
        r % 2 == 0 ? 1.0 - 0.9 / r : std::numeric_limits<double>::quiet_NaN();
    csv += MetricsCsvWriter::FormatRow(row, include_wall) + "\n";
  }
  return csv;
}

void ExpectPng(const std::string& path) {
  auto data = base::ReadFile(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_GT(data->size(), 1000u) << path;
  EXPECT_EQ(data->substr(0, 8), std::string(kPngMagic, 8)) << path;
}

std::string WriteFakeGnuplot(const std::string& dir, const std::string& body) {
  std::string path = dir + "/fake-gnuplot";
  EXPECT_TRUE(base::WriteFileAtomically(path, "#!/bin/sh\n" + body).ok());
  EXPECT_EQ(::chmod(path.c_str(), 0755), 0);
  return path;
}

TEST(WritePlotsTest, DrawsTwoPngsAndKeepsScript) {
  ScopedTestDir dir;
  ASSERT_TRUE(base::WriteFileAtomically(dir.path() + "/metrics.csv",
                                        SmallMetricsCsv(true))
                  .ok());
  absl::Status status = WritePlots(dir.path());
  ASSERT_TRUE(status.ok()) << status;
  ExpectPng(dir.path() + "/accuracy_vs_round.png");
  ExpectPng(dir.path() + "/accuracy_vs_bytes_up.png");
  auto script = base::ReadFile(dir.path() + "/plots.gp");
  ASSERT_TRUE(script.ok()) << script.status();
  EXPECT_EQ(
      *script,
      MakeGnuplotScript(std::filesystem::path(dir.path()).filename().string()));
}

TEST(WritePlotsTest, WorksWithoutWallColumnAndWithQuotesInRunName) {
  ScopedTestDir tmp;
  std::string run_dir =
      tmp.path() + "/it's a \"run\" $(touch pwned) `touch pwned` @x %d";
  ASSERT_TRUE(base::MakeDirs(run_dir).ok());
  ASSERT_TRUE(base::WriteFileAtomically(run_dir + "/metrics.csv",
                                        SmallMetricsCsv(false, 300))
                  .ok());
  absl::Status status = WritePlots(run_dir, "/usr/bin/gnuplot");
  ASSERT_TRUE(status.ok()) << status;
  ExpectPng(run_dir + "/accuracy_vs_round.png");
  ExpectPng(run_dir + "/accuracy_vs_bytes_up.png");
  EXPECT_FALSE(std::filesystem::exists(run_dir + "/pwned"));
  EXPECT_FALSE(std::filesystem::exists("pwned"));
}

TEST(WritePlotsTest, MissingGnuplotIsUnavailable) {
  ScopedTestDir dir;
  ASSERT_TRUE(base::WriteFileAtomically(dir.path() + "/metrics.csv",
                                        SmallMetricsCsv(true))
                  .ok());
  absl::Status by_path = WritePlots(dir.path(), dir.path() + "/no/gnuplot");
  EXPECT_EQ(by_path.code(), absl::StatusCode::kUnavailable) << by_path;
  EXPECT_NE(by_path.message().find("gnuplot"), std::string::npos);
  absl::Status by_name = WritePlots(dir.path(), "cohort-no-such-gnuplot");
  EXPECT_EQ(by_name.code(), absl::StatusCode::kUnavailable) << by_name;
}

TEST(WritePlotsTest, GnuplotFailureIsInternalWithStderrTail) {
  ScopedTestDir dir;
  ASSERT_TRUE(base::WriteFileAtomically(dir.path() + "/metrics.csv",
                                        SmallMetricsCsv(true))
                  .ok());
  std::string fake = WriteFakeGnuplot(
      dir.path(), "echo 'line 3: undefined variable: boom' >&2\nexit 3\n");
  absl::Status status = WritePlots(dir.path(), fake);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("exited with 3"), std::string::npos)
      << status;
  EXPECT_NE(status.message().find("undefined variable: boom"),
            std::string::npos)
      << status;
}

TEST(WritePlotsTest, GnuplotThatWritesNoPngIsInternal) {
  ScopedTestDir dir;
  ASSERT_TRUE(base::WriteFileAtomically(dir.path() + "/metrics.csv",
                                        SmallMetricsCsv(true))
                  .ok());
  // Stale PNGs from an earlier call must not pass for new ones.
  ASSERT_TRUE(
      base::WriteFileAtomically(dir.path() + "/accuracy_vs_round.png", "old")
          .ok());
  std::string fake = WriteFakeGnuplot(dir.path(), "exit 0\n");
  EXPECT_EQ(WritePlots(dir.path(), fake).code(), absl::StatusCode::kInternal);
}

TEST(WritePlotsTest, RunsBinaryWithScriptArgumentInRunDir) {
  ScopedTestDir dir;
  ASSERT_TRUE(base::WriteFileAtomically(dir.path() + "/metrics.csv",
                                        SmallMetricsCsv(true))
                  .ok());
  // Records its arguments and working directory, then fakes both PNGs.
  std::string fake = WriteFakeGnuplot(
      dir.path(),
      "printf '%s|' \"$#\" \"$@\" \"$(pwd)\" > invocation\n"
      "echo x > accuracy_vs_round.png\necho x > accuracy_vs_bytes_up.png\n");
  ASSERT_TRUE(WritePlots(dir.path(), fake).ok());
  auto invocation = base::ReadFile(dir.path() + "/invocation");
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  std::string canonical = std::filesystem::canonical(dir.path()).string();
  EXPECT_EQ(*invocation, "1|plots.gp|" + canonical + "|");
}

TEST(WritePlotsTest, BadInputsAreFailedPrecondition) {
  ScopedTestDir dir;
  EXPECT_EQ(WritePlots(dir.path()).code(),
            absl::StatusCode::kFailedPrecondition);  // No metrics.csv.
  std::string all_nan = MetricsCsvWriter::Header(true) +
                        "\n1,1.000,0.100,5,0,10,10,1.000000,nan\n";
  ASSERT_TRUE(
      base::WriteFileAtomically(dir.path() + "/metrics.csv", all_nan).ok());
  EXPECT_EQ(WritePlots(dir.path()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/plots.gp"));
}

TEST(CheckMetricsCsvTest, CountsRowsAndAccuracyPoints) {
  auto summary = CheckMetricsCsv(SmallMetricsCsv(true, 7));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows, 7);
  EXPECT_EQ(summary->accuracy_points, 3);  // Rounds 2, 4, 6.
  EXPECT_EQ(CheckMetricsCsv("").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckMetricsCsv("round,test_accuracy\n1,0.5\n").status().code(),
            absl::StatusCode::kFailedPrecondition);  // No bytes_up.
}

TEST(MakeGnuplotScriptTest, TitlesLabelsAndQuoting) {
  std::string script = MakeGnuplotScript("it's\nx");
  EXPECT_NE(script.find("(run it''s?x)'"), std::string::npos);
  for (const char* needed :
       {"set output 'accuracy_vs_round.png'",
        "set output 'accuracy_vs_bytes_up.png'", "set title '",
        "set xlabel 'round'", "set xlabel 'cumulative bytes uploaded",
        "set ylabel 'test accuracy'", "pngcairo", "'metrics.csv'"}) {
    EXPECT_NE(script.find(needed), std::string::npos) << needed;
  }
}

}  // namespace
}  // namespace cohort::sim
