// cohort-sim under mpirun (OpenMPI): several processes give the
// single-process result bit for bit, and a rank that dies ends the run
// naming it instead of leaving the others waiting.

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "gtest/gtest.h"
#include "sim/output/sim_metrics.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::testing {
namespace {

constexpr char kMpirun[] = "/usr/bin/mpirun";

class SimMpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kMpirun))
        << "OpenMPI's mpirun is missing (deploy/install-deps.sh installs "
           "openmpi-bin)";
    dir_ = ::testing::TempDir() + "/sim_mpi_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(WriteSyntheticFashionMnist(dir_ + "/data", 1500, 300, 2));
  }

  // A scenario with FedPer personal layers (each client's layers travel
  // with its job to whichever rank trains it: 14 of 40 clients a round, so
  // most train again, mostly on another rank), local test splits and
  // straggling devices, in rounds configured by `round` (SecAgg+ by
  // default); `extra` is appended.
  std::string Scenario(const std::string& name, const std::string& round,
                       const std::string& extra = "",
                       double training_dropout = 0.1) {
    const std::string path = dir_ + "/" + name + ".textproto";
    std::ofstream(path) << absl::StrCat(
        "population { num_clients: 40 partition: DIRICHLET alpha: 0.5 "
        "mean_examples: 25 quantity_sigma: 0.5 }\n"
        "clients_per_round: 14\n"
        "round { min_reports: 9 ", round, " }\n"
        "plan { batch_size: 10 learning_rate: 0.05 personal_layers: 'fc2' }\n"
        "architecture: 'mlp' seed: 11\n"
        "devices { speed_sigma: 0.5 dropout_during_training: ",
        training_dropout, " }\n"
        "data { idx_dir: '", dir_, "/data' }\n", extra);
    return path;
  }

  // cohort-sim with `ranks` processes (0: without mpirun) and `threads`
  // each; its exit code, its output in *log.
  int Run(const std::string& scenario, const std::string& name, int ranks,
          int threads, std::string* log, int rounds = 3) {
    std::vector<std::string> argv;
    if (ranks > 0) {
      argv = {kMpirun, "-np", absl::StrCat(ranks), "--oversubscribe",
              "--allow-run-as-root", "--bind-to", "none"};
    }
    for (std::string a :
         {BinaryPath("cohort-sim"), "--config=" + scenario,
          "--output_dir=" + dir_ + "/runs", "--name=" + name,
          absl::StrCat("--threads=", threads),
          absl::StrCat("--rounds=", rounds), std::string("--plots=false")}) {
      argv.push_back(a);
    }
    Subprocess sim(argv, dir_ + "/" + name + ".log");
    auto code = sim.Wait(absl::Minutes(3));
    *log = sim.Log();
    return code.value_or(-1);
  }

  std::string Read(const std::string& name, const std::string& file) {
    auto s = base::ReadFile(dir_ + "/runs/" + name + "/" + file);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : "";
  }

  void ExpectSameRun(const std::string& a, const std::string& b) {
    const std::string csv = Read(a, "metrics.csv");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;
    EXPECT_EQ(sim::MetricsCsvWriter::StripWallSeconds(csv),
              sim::MetricsCsvWriter::StripWallSeconds(Read(b, "metrics.csv")))
        << a << " vs " << b;
    EXPECT_TRUE(Read(a, "model.pb") == Read(b, "model.pb")) << a << " vs " << b;
    EXPECT_EQ(Read(a, "personalization.csv"), Read(b, "personalization.csv"))
        << a << " vs " << b;
  }

  std::string dir_;
};

// Secure rounds (the default): SecAgg+ runs on rank 0 over reports
// trained on every rank.
TEST_F(SimMpiTest, TwoAndThreeRanksGiveTheSingleProcessRunBitForBit) {
  const std::string scenario = Scenario("secure", "");
  std::string log;
  ASSERT_EQ(Run(scenario, "single", 0, 2, &log), 0) << log;
  ASSERT_FALSE(Read("single", "personalization.csv").empty());
  ASSERT_EQ(Run(scenario, "ranks2", 2, 1, &log), 0) << log;
  EXPECT_NE(log.find("2 processes"), std::string::npos) << log;
  // Only rank 0 writes results and reports progress.
  EXPECT_EQ(log.find("cohort-sim: 40 clients"),
            log.rfind("cohort-sim: 40 clients")) << log;
  ExpectSameRun("single", "ranks2");
  ASSERT_EQ(Run(scenario, "ranks3", 3, 2, &log), 0) << log;
  ExpectSameRun("single", "ranks3");
}

// Buffered asynchronous rounds (FedBuff) under SecAgg+: the clients of a
// round train as one batch split across the ranks, from the version they
// were given, which may be one the coordinator no longer serves.
TEST_F(SimMpiTest, BufferedSecureRunOnTwoRanksGivesTheSingleProcessRun) {
  const std::string scenario =
      Scenario("buffered", "buffered { concurrency: 24 }");
  std::string log;
  ASSERT_EQ(Run(scenario, "single", 0, 2, &log), 0) << log;
  ASSERT_EQ(Run(scenario, "ranks2", 2, 1, &log), 0) << log;
  ExpectSameRun("single", "ranks2");
}

// Plain FedAvg with field monitoring and a poisoning minority from round
// 2: evaluation before training and poisoned updates come from every rank.
TEST_F(SimMpiTest, PoisonedPlainRoundsOnTwoRanksGiveTheSingleProcessRun) {
  const std::string scenario = Scenario(
      "poisoned",
      "secure_aggregation { enabled: false } "
      "field_monitor { min_reports: 3 max_accuracy_drop: 0.05 }",
      "poison { round: 2 fraction: 0.3 rounds: 2 }\n");
  std::string log;
  ASSERT_EQ(Run(scenario, "single", 0, 1, &log), 0) << log;
  const std::string csv = Read("single", "metrics.csv");
  // Field reports came in (the column after field_accuracy is not 0).
  EXPECT_EQ(csv.find(",nan,0,nan,nan,"), std::string::npos) << csv;
  ASSERT_EQ(Run(scenario, "ranks2", 2, 1, &log), 0) << log;
  ExpectSameRun("single", "ranks2");
}

// Rank 0 failing mid-run (rounds that cannot fill) ends every rank: the
// workers waiting for their next batch do not keep mpirun alive.
TEST_F(SimMpiTest, ARunThatFailsOnRankZeroEndsEveryRank) {
  const std::string scenario = Scenario(
      "unfillable", "secure_aggregation { enabled: false }", "", 0.95);
  std::string log;
  EXPECT_EQ(Run(scenario, "unfillable", 2, 1, &log), 1) << log;
  EXPECT_NE(log.find("cohort-sim rank 0 of 2: FAILED_PRECONDITION"),
            std::string::npos)
      << log;
}

// A /proc file's text (its size reads as 0, so not base::ReadFile).
std::string ReadProc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The pid of mpirun's child that is rank `rank` of its run.
std::optional<pid_t> RankPid(pid_t mpirun, int rank) {
  const std::string want = absl::StrCat("OMPI_COMM_WORLD_RANK=", rank);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = ReadProc(entry.path().string() + "/stat");
    // stat: "pid (comm) state ppid ...".
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    if (std::atoi(stat.c_str() + close + 4) != mpirun) continue;
    const std::string environ = ReadProc(entry.path().string() + "/environ");
    for (size_t at = 0; at < environ.size();) {
      const size_t end = environ.find('\0', at);
      if (environ.compare(at, end - at, want) == 0) return std::stoi(name);
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  return std::nullopt;
}

TEST_F(SimMpiTest, AKilledRankEndsTheRunNamingTheRank) {
  const std::string scenario = Scenario("long", "");
  Subprocess sim({kMpirun, "-np", "3", "--oversubscribe", "--allow-run-as-root",
                  "--bind-to", "none", BinaryPath("cohort-sim"),
                  "--config=" + scenario, "--output_dir=" + dir_ + "/runs",
                  "--name=long", "--threads=1", "--rounds=500", "--plots=false"},
                 dir_ + "/long.log");
  ASSERT_TRUE(sim.started());
  // Once the first round is in, rank 1 is mid-run.
  const absl::Time give_up = absl::Now() + absl::Minutes(2);
  while (sim.Log().find("round 1/500") == std::string::npos && sim.running() &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_NE(sim.Log().find("round 1/500"), std::string::npos) << sim.Log();
  std::optional<pid_t> rank1 = RankPid(sim.pid(), 1);
  ASSERT_TRUE(rank1.has_value()) << "no rank 1 under mpirun " << sim.pid();
  ASSERT_EQ(kill(*rank1, SIGKILL), 0);
  // The run ends, failing, and says which rank died.
  std::optional<int> code = sim.Wait(absl::Minutes(1));
  ASSERT_TRUE(code.has_value()) << "mpirun still waits a minute after rank 1 "
                                   "died:\n" << sim.Log();
  EXPECT_NE(*code, 0);
  EXPECT_NE(sim.Log().find("rank 1"), std::string::npos) << sim.Log();
  EXPECT_EQ(sim.Log().find("round 500/500"), std::string::npos);
}

}  // namespace
}  // namespace cohort::testing
