// End to end: real cohort-server and cohort-agent processes over mutual TLS
// on loopback, with the PostgreSQL store.

#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/testing/pg_env.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/base/files.h"
#include "gmock/gmock.h"
#include "server/store/postgres_store.h"
#include "tests/integration/cluster_fixture.h"

namespace cohort::testing {
namespace {

class FederatedTrainingTest : public ClusterTest {
 protected:
  void SetUp() override {
    dsn_ = PgDsn();
    if (dsn_.empty()) COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is not set");
    ClusterTest::SetUp();
    auto store = server::PostgresStore::Connect(dsn_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::vector<server::ModelVersionRecord> Versions(const std::string& task) {
    auto v = store_->ListVersions(task);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : std::vector<server::ModelVersionRecord>{};
  }

  std::string dsn_;
  std::unique_ptr<server::PostgresStore> store_;
};

TEST_F(FederatedTrainingTest, ThreeAgentsThreeRoundsImproveAccuracy) {
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn_, "\"");
  o.task = UniqueTask();
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) agents.push_back(StartAgent(i, port, o.task));

  auto code = server->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << "server did not finish 3 rounds:\n"
                                << server->Log();
  EXPECT_EQ(*code, 0) << server->Log();
  // Agents stop cleanly on SIGTERM.
  for (auto& a : agents) a->Signal(SIGTERM);
  for (auto& a : agents) {
    auto agent_code = a->Wait(absl::Seconds(30));
    ASSERT_TRUE(agent_code.has_value()) << a->Log();
    EXPECT_EQ(*agent_code, 0) << a->Log();
  }

  auto versions = Versions(o.task);
  ASSERT_EQ(versions.size(), 4u);  // initial + 3 rounds
  for (size_t i = 1; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i].version, versions[i - 1].version + 1);
    EXPECT_EQ(versions[i].parent, versions[i - 1].version);
    auto participants = versions[i].metrics.find("participants");
    ASSERT_NE(participants, versions[i].metrics.end());
    EXPECT_EQ(participants->second, 3.0);
  }
  ASSERT_TRUE(versions.front().metrics.contains("test_accuracy"));
  ASSERT_TRUE(versions.back().metrics.contains("test_accuracy"));
  const double before = versions.front().metrics.at("test_accuracy");
  const double after = versions.back().metrics.at("test_accuracy");
  EXPECT_GT(after, before + 0.3) << "accuracy " << before << " -> " << after;
  EXPECT_GT(after, 0.8);
}

// Buffered asynchronous rounds (FedBuff) in the production path: a version
// every 2 updates while the third agent keeps training, each version built
// on the one before.
TEST_F(FederatedTrainingTest, BufferedRoundsCommitEveryTwoUpdatesAcrossAgents) {
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn_, "\"");
  o.task = UniqueTask();
  o.goal = 2;
  o.max_rounds = 4;
  o.buffered = "concurrency: 3 max_staleness: 3";
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) agents.push_back(StartAgent(i, port, o.task));
  auto code = server->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << "server did not commit 4 buffers:\n"
                                << server->Log();
  EXPECT_EQ(*code, 0) << server->Log();
  for (auto& a : agents) a->Signal(SIGTERM);
  for (auto& a : agents) {
    auto agent_code = a->Wait(absl::Seconds(30));
    ASSERT_TRUE(agent_code.has_value()) << a->Log();
    EXPECT_EQ(*agent_code, 0) << a->Log();
  }
  auto versions = Versions(o.task);
  ASSERT_EQ(versions.size(), 5u);  // initial + 4 buffers
  for (size_t i = 1; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i].parent, versions[i - 1].version);
    EXPECT_EQ(versions[i].metrics.at("participants"), 2.0);
  }
  const double before = versions.front().metrics.at("test_accuracy");
  const double after = versions.back().metrics.at("test_accuracy");
  EXPECT_GT(after, before + 0.3) << "accuracy " << before << " -> " << after;
}

// The production path with SecAgg+: real agents over mTLS; the server only
// ever sees masked updates and still learns.
TEST_F(FederatedTrainingTest, SecureAggregationAcrossAgentsImprovesAccuracy) {
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn_, "\"");
  o.task = UniqueTask();
  o.max_rounds = 2;
  o.secure = true;
  o.round_extra =
      "secure_aggregation { enabled: true bits_per_coordinate: 16 "
      "phase_timeout_ms: 30000 } "
      "field_monitor { min_reports: 1 max_accuracy_drop: 1 }";
  const std::string run_dir = dir_ + "/server-run";  // StartServer's
  auto server = StartServer(o, "server");
  int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) agents.push_back(StartAgent(i, port, o.task));
  auto code = server->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << "server did not finish 2 secure rounds:\n"
                                << server->Log();
  EXPECT_EQ(*code, 0) << server->Log();
  EXPECT_THAT(server->Log(),
              ::testing::HasSubstr("secure aggregation over 3 devices"));
  for (auto& a : agents) a->Signal(SIGTERM);
  for (auto& a : agents) {
    auto agent_code = a->Wait(absl::Seconds(30));
    ASSERT_TRUE(agent_code.has_value()) << a->Log();
    EXPECT_EQ(*agent_code, 0) << a->Log();
    EXPECT_THAT(a->Log(), ::testing::HasSubstr("update summed securely"));
  }
  auto versions = Versions(o.task);
  ASSERT_EQ(versions.size(), 3u);  // initial + 2 rounds
  for (size_t i = 1; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i].metrics.at("participants"), 3.0);
  }
  const double before = versions.front().metrics.at("test_accuracy");
  const double after = versions.back().metrics.at("test_accuracy");
  EXPECT_GT(after, before + 0.3) << "accuracy " << before << " -> " << after;
  // The agents' field evaluations travelled inside the masked sums: each
  // round counted its 3 devices, and the second measured drift from the
  // first.
  auto csv = base::ReadFile(run_dir + "/metrics.csv");
  ASSERT_TRUE(csv.ok()) << csv.status();
  const std::vector<std::string> lines =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(*csv), '\n');
  ASSERT_EQ(lines.size(), 3u) << *csv;
  const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  auto column = [&](int row, const std::string& name) {
    const auto at = std::find(header.begin(), header.end(), name);
    EXPECT_NE(at, header.end()) << name;
    const std::vector<std::string> cells = absl::StrSplit(lines[row], ',');
    return cells.at(at - header.begin());
  };
  for (int row : {1, 2}) {
    EXPECT_EQ(column(row, "field_reports"), "3") << *csv;
    EXPECT_NE(column(row, "field_accuracy"), "nan") << *csv;
  }
  EXPECT_NE(column(2, "field_feature_drift"), "nan") << *csv;
  EXPECT_NE(column(2, "field_prediction_drift"), "nan") << *csv;
  EXPECT_THAT(server->Log(),
              ::testing::Not(::testing::HasSubstr("field statistics")));
}

TEST_F(FederatedTrainingTest, KilledServerLosesNoCommittedVersionAndResumes) {
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn_, "\"");
  o.task = UniqueTask();
  o.max_rounds = 0;  // run until killed
  auto first = StartServer(o, "first");
  int port = WaitForPort(*first, "first");
  ASSERT_GT(port, 0) << first->Log();
  std::vector<std::unique_ptr<Subprocess>> agents;
  for (int i = 0; i < 3; ++i) agents.push_back(StartAgent(i, port, o.task));

  absl::Time deadline = absl::Now() + absl::Minutes(3);
  while (Versions(o.task).size() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GE(Versions(o.task).size(), 3u) << first->Log();
  // Kill it in the middle of the next round.
  absl::SleepFor(absl::Milliseconds(700));
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(absl::Seconds(10)).has_value());
  auto before = Versions(o.task);

  o.listen = absl::StrCat("127.0.0.1:", port);
  o.max_rounds = 1;
  auto second = StartServer(o, "second");
  auto code = second->Wait(absl::Minutes(3));
  ASSERT_TRUE(code.has_value()) << second->Log();
  EXPECT_EQ(*code, 0) << second->Log();
  EXPECT_NE(second->Log().find("resuming task"), std::string::npos);

  auto after = Versions(o.task);
  ASSERT_EQ(after.size(), before.size() + 1);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].version, before[i].version);
    EXPECT_EQ(after[i].round_id, before[i].round_id);
  }
  EXPECT_EQ(after.back().parent, before.back().version);
  EXPECT_GT(after.back().round_id, before.back().round_id);
  for (auto& a : agents) a->Signal(SIGTERM);
}

}  // namespace
}  // namespace cohort::testing
