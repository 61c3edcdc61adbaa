// The coordinator's health follows its database end to end: with
// PostgreSQL taken away (a socket proxy in between is cut, so the real
// server other tests share keeps running), grpc.health.v1 turns
// NOT_SERVING on both ports and the store errors show on /metrics; when the
// database is back, the coordinator reconnects by itself and serves again.

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/store/postgres_store.h"
#include "tests/integration/admin_fixture.h"
#include "tests/server/store/store_test_util.h"
#include "tests/testing/http_client.h"
#include "tests/testing/pg_env.h"
#include "tests/testing/prometheus_text.h"
#include "tests/testing/socket_proxy.h"

namespace cohort::testing {
namespace {

using server::store_testing::DsnValue;

class DeadStoreTest : public AdminTest {
 protected:
  void TearDown() override {
    proxy_.reset();
    if (!proxy_dir_.empty()) std::filesystem::remove_all(proxy_dir_);
    AdminTest::TearDown();
  }

  // Starts a proxy to the test database's socket and returns the DSN that
  // reaches the database through it; "" when the DSN has no socket host.
  std::string ProxiedDsn(const std::string& dsn) {
    const std::string host = DsnValue(dsn, "host");
    const std::string port = DsnValue(dsn, "port").empty()
                                 ? "5432"
                                 : DsnValue(dsn, "port");
    if (host.empty() || host[0] != '/') return "";
    // Socket paths are short (108 bytes): not under the test's folder.
    proxy_dir_ = absl::StrCat("/tmp/cohort-proxy-", ::getpid());
    std::filesystem::create_directories(proxy_dir_);
    proxy_ = std::make_unique<UnixSocketProxy>(
        absl::StrCat(proxy_dir_, "/.s.PGSQL.", port),
        absl::StrCat(host, "/.s.PGSQL.", port));
    if (!proxy_->Start().ok()) return "";
    std::string proxied = absl::StrCat("host=", proxy_dir_, " port=", port);
    for (const char* key : {"dbname", "user", "password"}) {
      if (!DsnValue(dsn, key).empty()) {
        absl::StrAppend(&proxied, " ", key, "=", DsnValue(dsn, key));
      }
    }
    return proxied;
  }

  // `cohortctl health`'s answer on `port`: "SERVING", "NOT_SERVING" or the
  // error it printed.
  std::string Health(int port) {
    std::string log;
    Cohortctl({"health"}, port, "operator", &log);
    return std::string(absl::StripAsciiWhitespace(log));
  }

  // Whether both ports answer SERVING (`serving`) or NOT_SERVING within 45 s
  // (the coordinator probes its store every 5 s).
  bool HealthBecomes(bool serving, int admin_port, int device_port) {
    auto is = [&](int port) {
      const std::string health = Health(port);
      return serving ? health == "SERVING"
                     : absl::StrContains(health, "NOT_SERVING");
    };
    return PollUntil(absl::Seconds(45),
                     [&] { return is(admin_port) && is(device_port); });
  }

  std::unique_ptr<UnixSocketProxy> proxy_;
  std::string proxy_dir_;
};

TEST_F(DeadStoreTest, HealthFollowsTheDatabaseAwayAndBack) {
  const std::string dsn = PgDsn();
  if (dsn.empty()) COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is unset");
  const std::string proxied = ProxiedDsn(dsn);
  ASSERT_FALSE(proxied.empty()) << "cannot proxy " << dsn;
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", proxied, "\"");
  o.task = UniqueTask();
  o.max_rounds = 0;
  o.extra = absl::StrCat(AdminConfig(),
                         " metrics { listen_address: \"127.0.0.1:0\" "
                         "port_file: \"", dir_, "/metrics.port\" }");
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int admin_port = AdminPort();
  ASSERT_GT(admin_port, 0);
  EXPECT_EQ(Health(admin_port), "SERVING");

  proxy_->Cut();
  EXPECT_TRUE(HealthBecomes(false, admin_port, port))
      << Health(admin_port) << "\n" << server->Log();
  // The failed probes show as store errors on /metrics.
  const int metrics_port = PortInFile(dir_ + "/metrics.port");
  auto scraped = HttpGet(metrics_port, "/metrics", absl::Seconds(10));
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  const std::optional<double> errors = SampleValue(
      scraped->body, "cohort_store_errors_total",
      {{"task", o.task}, {"operation", "last_round_id"}, {"code", "unavailable"}});
  ASSERT_TRUE(errors.has_value()) << scraped->body;
  EXPECT_GE(*errors, 1);
  EXPECT_TRUE(server->running()) << server->Log();

  ASSERT_TRUE(proxy_->Start().ok());
  EXPECT_TRUE(HealthBecomes(true, admin_port, port))
      << Health(admin_port) << "\n" << server->Log();

  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(absl::Seconds(30)), std::optional<int>(0))
      << server->Log();
}

// PostgreSQL goes away in the middle of a run of signed rounds with two
// agents and comes back: devices are told UNAVAILABLE and back off, health
// turns NOT_SERVING, and the coordinator resumes by itself. Every version is
// committed once, each on the one before, and each released once, in order.
TEST_F(DeadStoreTest, RoundsPauseWhileTheDatabaseIsAwayAndResumeLosingNothing) {
  const std::string dsn = PgDsn();
  if (dsn.empty()) COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is unset");
  const std::string proxied = ProxiedDsn(dsn);
  ASSERT_FALSE(proxied.empty()) << "cannot proxy " << dsn;
  ServerOptions o;
  o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", proxied,
                         "\" postgres_statement_timeout_ms: 5000");
  o.task = UniqueTask();
  o.goal = 2;
  o.max_rounds = 5;
  o.extra = absl::StrCat(AdminConfig(), " ", SigningConfig());
  auto server = StartServer(o, "server");
  const int port = WaitForPort(*server, "server");
  ASSERT_GT(port, 0) << server->Log();
  const int admin_port = AdminPort();
  auto a0 = StartAgent(0, port, o.task, Pinned());
  auto a1 = StartAgent(1, port, o.task, Pinned());
  const std::string metrics = dir_ + "/server-run/metrics.csv";
  ASSERT_TRUE(PollUntil(absl::Seconds(60),
                        [&] { return CommittedRounds(metrics) >= 1; }))
      << server->Log();

  proxy_->Cut();
  EXPECT_TRUE(HealthBecomes(false, admin_port, port)) << server->Log();
  // Devices are told why they are turned away, and back off.
  EXPECT_TRUE(PollUntil(absl::Seconds(30), [&] {
    return absl::StrContains(a0->Log(), "rounds are paused") ||
           absl::StrContains(a1->Log(), "rounds are paused");
  })) << a0->Log() << a1->Log();
  const int committed_while_away = CommittedRounds(metrics);
  absl::SleepFor(absl::Seconds(5));
  EXPECT_EQ(CommittedRounds(metrics), committed_while_away);
  EXPECT_TRUE(server->running()) << server->Log();

  ASSERT_TRUE(proxy_->Start().ok());
  // The coordinator resumes by itself and finishes its rounds.
  EXPECT_EQ(server->Wait(absl::Seconds(180)), std::optional<int>(0))
      << server->Log();
  EXPECT_EQ(CommittedRounds(metrics), 5) << server->Log();

  auto store = server::PostgresStore::Connect(dsn);
  ASSERT_TRUE(store.ok()) << store.status();
  auto versions = (*store)->ListVersions(o.task);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 6u);  // the initial version and 5 rounds
  for (size_t i = 0; i < versions->size(); ++i) {
    EXPECT_EQ((*versions)[i].version, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*versions)[i].parent, static_cast<int64_t>(i));
  }
  auto releases = (*store)->ListReleases(o.task);
  ASSERT_TRUE(releases.ok()) << releases.status();
  ASSERT_EQ(releases->size(), 6u);
  for (size_t i = 0; i < releases->size(); ++i) {
    EXPECT_EQ((*releases)[i].release, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*releases)[i].version, static_cast<int64_t>(i + 1));
  }
  for (auto* agent : {a0.get(), a1.get()}) agent->Signal(SIGTERM);
}

}  // namespace
}  // namespace cohort::testing
