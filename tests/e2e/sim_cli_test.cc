// cohort-sim as a user runs it: the binary, a scenario file, the run folder.

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "gtest/gtest.h"
#include "sim/output/sim_metrics.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::testing {
namespace {

class SimCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test: ctest -j runs the tests of this file in parallel.
    dir_ = ::testing::TempDir() + "/sim_cli_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(WriteSyntheticFashionMnist(dir_ + "/data", 1500, 300, 2));
    scenario_ = dir_ + "/scenario.textproto";
    std::ofstream(scenario_) << absl::StrCat(
        "population { num_clients: 5000 partition: LABEL_SHARDS "
        "labels_per_client: 2 mean_examples: 30 quantity_sigma: 0.5 }\n"
        "clients_per_round: 15\n"
        "round { min_reports: 10 }\n"
        "plan { batch_size: 10 learning_rate: 0.05 }\n"
        "architecture: 'mlp' rounds: 3 seed: 5\n"
        "devices { speed_sigma: 0.5 dropout_during_training: 0.1 }\n"
        "data { idx_dir: '", dir_, "/data' }\n");
  }

  int Run(const std::string& name, int threads, std::string* log,
          const std::string& scenario = "") {
    Subprocess sim({BinaryPath("cohort-sim"),
                    "--config=" + (scenario.empty() ? scenario_ : scenario),
                    "--output_dir=" + dir_ + "/runs", "--name=" + name,
                    absl::StrCat("--threads=", threads)},
                   dir_ + "/" + name + ".log");
    auto code = sim.Wait(absl::Minutes(3));
    *log = sim.Log();
    return code.value_or(-1);
  }

  std::string Read(const std::string& path) {
    auto s = base::ReadFile(path);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : "";
  }

  std::string dir_;
  std::string scenario_;
};

TEST_F(SimCliTest, TwoThreadCountsWriteIdenticalMetricsAndModel) {
  std::string log1, log2;
  ASSERT_EQ(Run("one", 1, &log1), 0) << log1;
  ASSERT_EQ(Run("two", 2, &log2), 0) << log2;
  EXPECT_NE(log1.find("final test accuracy: "), std::string::npos) << log1;
  // Not a terminal: one plain line per round instead of a progress bar.
  EXPECT_NE(log1.find("round 3/3"), std::string::npos) << log1;
  EXPECT_EQ(log1.find('\r'), std::string::npos);

  const std::string runs = dir_ + "/runs";
  std::string csv1 = Read(runs + "/one/metrics.csv");
  std::string csv2 = Read(runs + "/two/metrics.csv");
  EXPECT_EQ(std::count(csv1.begin(), csv1.end(), '\n'), 4);  // header + 3 rounds
  EXPECT_EQ(sim::MetricsCsvWriter::StripWallSeconds(csv1),
            sim::MetricsCsvWriter::StripWallSeconds(csv2));
  EXPECT_TRUE(Read(runs + "/one/model.pb") == Read(runs + "/two/model.pb"));
  EXPECT_FALSE(Read(runs + "/one/config.textproto").empty());
  EXPECT_EQ(std::filesystem::read_symlink(runs + "/latest"), "two");
  for (const char* png : {"accuracy_vs_round.png", "accuracy_vs_bytes_up.png"}) {
    std::string bytes = Read(runs + "/two/" + png);
    ASSERT_GT(bytes.size(), 8u) << png;
    EXPECT_EQ(bytes.substr(1, 3), "PNG") << png;
  }
}

// SecAgg+ in the simulator with devices dropping in every protocol phase:
// rounds still commit, and because the secure sum is exact the run is
// bit-identical across thread counts.
TEST_F(SimCliTest, SecureRoundsWithPerPhaseDropoutsAreExactAndReproducible) {
  const std::string secure = dir_ + "/secure.textproto";
  std::ofstream(secure) << absl::StrCat(
      "population { num_clients: 500 partition: IID mean_examples: 30 }\n"
      "clients_per_round: 15\n"
      "round { min_reports: 10 secure_aggregation { enabled: true "
      "bits_per_coordinate: 16 example_cap: 100 } }\n"
      "plan { batch_size: 10 learning_rate: 0.05 }\n"
      "architecture: 'mlp' rounds: 3 seed: 7\n"
      "devices { secagg_dropout_after_keys: 0.1 secagg_dropout_after_shares: 0.1 "
      "secagg_dropout_after_masked_input: 0.1 }\n"
      "data { idx_dir: '", dir_, "/data' }\n");
  std::string log1, log2;
  ASSERT_EQ(Run("secure1", 1, &log1, secure), 0) << log1;
  ASSERT_EQ(Run("secure2", 2, &log2, secure), 0) << log2;
  EXPECT_NE(log1.find("round 3/3"), std::string::npos) << log1;
  EXPECT_NE(log1.find("secure aggregation over"), std::string::npos) << log1;
  const std::string runs = dir_ + "/runs";
  std::string csv = Read(runs + "/secure1/metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  EXPECT_EQ(sim::MetricsCsvWriter::StripWallSeconds(csv),
            sim::MetricsCsvWriter::StripWallSeconds(
                Read(runs + "/secure2/metrics.csv")));
  EXPECT_TRUE(Read(runs + "/secure1/model.pb") == Read(runs + "/secure2/model.pb"));
  // The columns both metrics.csv files share: drops by cause and clipping.
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_NE(header.find(",dropped_timeout,dropped_disconnect,dropped_malformed,"
                        "dropped_secagg,clip_norm,clipped_fraction,"
                        "epsilon,abandoned_rounds"),
            std::string::npos)
      << header;
  // Secure rounds clip: no clipped_fraction is "nan" (field_accuracy is,
  // as no field monitor is configured).
  EXPECT_EQ(csv.find(",nan,nan,0,nan,0,nan,nan,committed"), std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",nan,0,nan,nan,committed"), std::string::npos) << csv;
}

// A secure scenario whose cohort SecAgg+ cannot serve (one device) fails
// before any work, naming the field, instead of abandoning every round.
TEST_F(SimCliTest, SecureCohortOfOneFailsBeforeWorkNamingTheField) {
  const std::string secure = dir_ + "/one.textproto";
  std::ofstream(secure) << absl::StrCat(
      "population { num_clients: 50 partition: IID mean_examples: 30 }\n"
      "clients_per_round: 1\n"
      "round { secure_aggregation { enabled: true } }\n"
      "architecture: 'mlp' rounds: 3 seed: 7\n"
      "data { idx_dir: '", dir_, "/data' }\n");
  std::string log;
  EXPECT_EQ(Run("one", 1, &log, secure), 2) << log;
  EXPECT_NE(log.find("clients_per_round"), std::string::npos) << log;
  EXPECT_NE(log.find("at least 2 devices"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/runs/one"));
}

TEST_F(SimCliTest, BadScenarioFailsBeforeWorkNamingTheField) {
  std::string text = Read(scenario_);
  text.replace(text.find("clients_per_round: 15"), 21, "clients_per_round: 9000");
  std::ofstream(scenario_, std::ios::trunc) << text;
  std::string log;
  EXPECT_EQ(Run("bad", 1, &log), 2) << log;
  EXPECT_NE(log.find("clients_per_round"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/runs/bad"));
}

}  // namespace
}  // namespace cohort::testing
