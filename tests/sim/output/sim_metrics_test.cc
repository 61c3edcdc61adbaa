#include "sim/output/sim_metrics.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/base/files.h"
#include "gtest/gtest.h"
#include "tests/sim/output/test_dir.h"

namespace cohort::sim {
namespace {

SimRoundRow ExampleRow() {
  SimRoundRow row;
  row.round = 12;
  row.sim_seconds = 412.0;
  row.wall_seconds = 2.1049;
  row.participants = 100;
  row.dropped = 3;
  row.bytes_up = 123456789;
  row.bytes_down = 9876543210;
  row.train_loss = 0.41234567;
  row.test_accuracy = 0.8123;
  return row;
}

SimRoundRow RandomRow(std::mt19937_64& rng, int64_t round) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_real_distribution<double> secs(0.0, 1e6);
  std::uniform_int_distribution<int64_t> count(0, 100000);
  std::uniform_int_distribution<int64_t> bytes(0, int64_t{1} << 40);
  SimRoundRow row;
  row.round = round;
  row.sim_seconds = secs(rng);
  row.wall_seconds = secs(rng);
  row.participants = count(rng);
  row.dropped = count(rng);
  row.bytes_up = bytes(rng);
  row.bytes_down = bytes(rng);
  row.train_loss = 10 * unit(rng);
  row.test_accuracy = unit(rng);
  row.outcome.drops = {count(rng), count(rng), count(rng), count(rng)};
  row.outcome.clip_norm = 10 * unit(rng);
  row.outcome.clipped_fraction = unit(rng);
  row.outcome.epsilon = 20 * unit(rng);
  row.outcome.abandoned_rounds = count(rng);
  row.local_accuracy = unit(rng);
  row.personalized_accuracy = unit(rng);
  return row;
}

// The columns after test_accuracy of a row whose outcome and local
// accuracies were left at their defaults.
constexpr char kDefaultOutcome[] =
    ",0,0,0,0,nan,nan,nan,0,nan,0,nan,nan,committed,nan,nan";

TEST(MetricsCsvWriterTest, CreateWritesExactHeader) {
  ScopedTestDir dir;
  std::string path = dir.path() + "/metrics.csv";
  auto writer = MetricsCsvWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  auto contents = base::ReadFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(*contents,
            "round,sim_seconds,wall_seconds,participants,dropped,bytes_up,"
            "bytes_down,train_loss,test_accuracy,dropped_timeout,"
            "dropped_disconnect,dropped_malformed,dropped_secagg,"
            "clip_norm,clipped_fraction,epsilon,abandoned_rounds,field_accuracy,"
            "field_reports,"
            "field_feature_drift,field_prediction_drift,release,"
            "local_accuracy,personalized_accuracy\n");
}

TEST(MetricsCsvWriterTest, FormatRowIsExact) {
  EXPECT_EQ(MetricsCsvWriter::FormatRow(ExampleRow(), true),
            std::string("12,412.000,2.105,100,3,123456789,9876543210,"
                        "0.412346,0.812300") + kDefaultOutcome);
  EXPECT_EQ(MetricsCsvWriter::FormatRow(ExampleRow(), false),
            std::string("12,412.000,100,3,123456789,9876543210,0.412346,"
                        "0.812300") + kDefaultOutcome);
  EXPECT_EQ(MetricsCsvWriter::Header(false),
            "round,sim_seconds,participants,dropped,bytes_up,bytes_down,"
            "train_loss,test_accuracy,dropped_timeout,dropped_disconnect,"
            "dropped_malformed,dropped_secagg,clip_norm,clipped_fraction,"
            "epsilon,abandoned_rounds,field_accuracy,field_reports,"
            "field_feature_drift,field_prediction_drift,release,"
            "local_accuracy,personalized_accuracy");
  SimRoundRow secure = ExampleRow();
  secure.outcome.drops = {1, 2, 3, 4};
  secure.outcome.clip_norm = 10;
  secure.outcome.clipped_fraction = 0.25;
  secure.outcome.abandoned_rounds = 5;
  EXPECT_EQ(MetricsCsvWriter::FormatRow(secure, false),
            "12,412.000,100,3,123456789,9876543210,0.412346,0.812300,"
            "1,2,3,4,10.000000,0.250000,nan,5,nan,0,nan,nan,committed,nan,nan");
  // With local test splits (FedPer): the last two columns.
  SimRoundRow personal = ExampleRow();
  personal.local_accuracy = 0.5;
  personal.personalized_accuracy = 0.75;
  const std::string line = MetricsCsvWriter::FormatRow(personal, false);
  EXPECT_EQ(line.substr(line.rfind(",committed")),
            ",committed,0.500000,0.750000");
}

TEST(MetricsCsvWriterTest, FormatRowSpecialValuesAreCanonical) {
  SimRoundRow row = ExampleRow();
  row.sim_seconds = -0.0;
  row.wall_seconds = -1e-9;  // Rounds to zero: no "-0.000".
  row.train_loss = std::numeric_limits<double>::infinity();
  row.test_accuracy = -std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(MetricsCsvWriter::FormatRow(row, true),
            std::string("12,0.000,0.000,100,3,123456789,9876543210,inf,nan") +
                kDefaultOutcome);
  row.train_loss = -std::numeric_limits<double>::infinity();
  row.test_accuracy = std::numeric_limits<double>::quiet_NaN();
  row.sim_seconds = -2.5;
  EXPECT_EQ(MetricsCsvWriter::FormatRow(row, false),
            std::string("12,-2.500,100,3,123456789,9876543210,-inf,nan") +
                kDefaultOutcome);
  row.sim_seconds = 1e300;  // Far past any real run, but must not crash.
  EXPECT_EQ(MetricsCsvWriter::FormatRow(row, false).size(),
            std::string("12,").size() + 301 + std::string(".000").size() +
                std::string(",100,3,123456789,9876543210,-inf,nan").size() +
                std::string(kDefaultOutcome).size());
}

TEST(MetricsCsvWriterTest, AppendFlushesEachRow) {
  ScopedTestDir dir;
  std::string path = dir.path() + "/metrics.csv";
  auto writer = MetricsCsvWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  SimRoundRow row = ExampleRow();
  ASSERT_TRUE((*writer)->Append(row).ok());
  row.round = 13;
  ASSERT_TRUE((*writer)->Append(row).ok());
  // Read while the writer is still open: rows must already be on disk.
  auto contents = base::ReadFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(
      *contents,
      std::string(MetricsCsvWriter::kHeader) + "\n" +
          "12,412.000,2.105,100,3,123456789,9876543210,0.412346,0.812300" +
          kDefaultOutcome + "\n" +
          "13,412.000,2.105,100,3,123456789,9876543210,0.412346,0.812300" +
          kDefaultOutcome + "\n");
}

TEST(MetricsCsvWriterTest, CreateInMissingDirectoryIsInternal) {
  ScopedTestDir dir;
  auto writer = MetricsCsvWriter::Create(dir.path() + "/no/such/metrics.csv");
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kInternal);
}

// Property: fields parse back to the row within the printed precision, equal
// rows give equal bytes, and StripWallSeconds turns a full file into the
// wall-free format exactly.
TEST(MetricsCsvWriterTest, RandomRowsRoundTripAndStripWallSeconds) {
  std::mt19937_64 rng(20240611);
  std::string full = std::string(MetricsCsvWriter::Header(true)) + "\n";
  std::string no_wall = MetricsCsvWriter::Header(false) + "\n";
  for (int64_t r = 1; r <= 500; ++r) {
    SimRoundRow row = RandomRow(rng, r);
    std::string line = MetricsCsvWriter::FormatRow(row, true);
    SimRoundRow copy = row;
    ASSERT_EQ(line, MetricsCsvWriter::FormatRow(copy, true));
    std::vector<std::string> f = absl::StrSplit(line, ',');
    ASSERT_EQ(f.size(), 11u + server::kRoundOutcomeColumns) << line;
    EXPECT_EQ(std::stoll(f[0]), row.round);
    EXPECT_NEAR(std::strtod(f[1].c_str(), nullptr), row.sim_seconds, 5e-4);
    EXPECT_NEAR(std::strtod(f[2].c_str(), nullptr), row.wall_seconds, 5e-4);
    EXPECT_EQ(std::stoll(f[3]), row.participants);
    EXPECT_EQ(std::stoll(f[4]), row.dropped);
    EXPECT_EQ(std::stoll(f[5]), row.bytes_up);
    EXPECT_EQ(std::stoll(f[6]), row.bytes_down);
    EXPECT_NEAR(std::strtod(f[7].c_str(), nullptr), row.train_loss, 5e-7);
    EXPECT_NEAR(std::strtod(f[8].c_str(), nullptr), row.test_accuracy, 5e-7);
    EXPECT_EQ(std::stoll(f[9]), row.outcome.drops.timeout);
    EXPECT_EQ(std::stoll(f[10]), row.outcome.drops.disconnect);
    EXPECT_EQ(std::stoll(f[11]), row.outcome.drops.malformed);
    EXPECT_EQ(std::stoll(f[12]), row.outcome.drops.secagg);
    EXPECT_NEAR(std::strtod(f[13].c_str(), nullptr), row.outcome.clip_norm,
                5e-7);
    EXPECT_NEAR(std::strtod(f[14].c_str(), nullptr),
                row.outcome.clipped_fraction, 5e-7);
    EXPECT_NEAR(std::strtod(f[15].c_str(), nullptr), row.outcome.epsilon, 5e-7);
    EXPECT_EQ(std::stoll(f[16]), row.outcome.abandoned_rounds);
    EXPECT_NEAR(std::strtod(f[f.size() - 2].c_str(), nullptr),
                row.local_accuracy, 5e-7);
    EXPECT_NEAR(std::strtod(f[f.size() - 1].c_str(), nullptr),
                row.personalized_accuracy, 5e-7);
    full += line + "\n";
    no_wall += MetricsCsvWriter::FormatRow(row, false) + "\n";
  }
  EXPECT_EQ(MetricsCsvWriter::StripWallSeconds(full), no_wall);
}

TEST(MetricsCsvWriterTest, StripWallSecondsIgnoresDifferentWallTimes) {
  SimRoundRow a = ExampleRow();
  SimRoundRow b = a;
  b.wall_seconds = 999.5;
  std::string csv_a = MetricsCsvWriter::FormatRow(a, true) + "\n";
  std::string csv_b = MetricsCsvWriter::FormatRow(b, true) + "\n";
  EXPECT_NE(csv_a, csv_b);
  EXPECT_EQ(MetricsCsvWriter::StripWallSeconds(csv_a),
            MetricsCsvWriter::StripWallSeconds(csv_b));
  b.test_accuracy = 0.5;  // A real difference must survive.
  EXPECT_NE(MetricsCsvWriter::StripWallSeconds(csv_a),
            MetricsCsvWriter::StripWallSeconds(
                MetricsCsvWriter::FormatRow(b, true) + "\n"));
}

}  // namespace
}  // namespace cohort::sim
