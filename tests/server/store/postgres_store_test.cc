// PostgresStore behaviour beyond the shared contract: connection failures,
// migrations and reconnecting. Cases that need a server skip unless
// COHORT_TEST_PG_DSN is set.

#include "server/store/postgres_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/store/postgres_schema.h"
#include "tests/server/store/store_test_util.h"
#include "tests/testing/pg_env.h"
#include "tests/testing/socket_proxy.h"

namespace cohort::server {
namespace {

using ::absl::StatusCode;
using store_testing::AppendDsnOption;
using store_testing::PgSkipMessage;
using store_testing::ScratchSchema;
using store_testing::TestPgDsn;
using store_testing::UniqueName;

// A local TCP port with nothing listening: bound, then released.
int DeadPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot pick a port";
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

ModelVersionRecord MakeRecord(int64_t version, int64_t parent) {
  return store_testing::MakeTestRecord("mnist", version, parent);
}

TEST(PostgresStoreConnectTest, DeadPortIsUnavailableWithAClearMessage) {
  const int port = DeadPort();
  auto store = PostgresStore::Connect(
      absl::StrCat("host=127.0.0.1 port=", port,
                   " dbname=cohort user=cohort password=hunter2 "
                   "connect_timeout=5"));
  ASSERT_FALSE(store.ok());
  const absl::Status& s = store.status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), "cannot connect to PostgreSQL ("))
      << s;
  EXPECT_TRUE(absl::StrContains(s.message(), absl::StrCat("port=", port))) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "Connection refused")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "hunter2")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "\n")) << s;
}

TEST(PostgresStoreConnectTest, UriPasswordIsNotShown) {
  auto store = PostgresStore::Connect(absl::StrCat(
      "postgresql://cohort:hunter2@127.0.0.1:", DeadPort(), "/cohort"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status();
  EXPECT_FALSE(absl::StrContains(store.status().message(), "hunter2"))
      << store.status();
}

TEST(PostgresStoreConnectTest, MalformedDsnIsInvalidArgument) {
  auto store = PostgresStore::Connect("host=localhost port");
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument)
      << store.status();
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> dsn = TestPgDsn();
    if (!dsn) COHORT_SKIP_OR_FAIL_WITHOUT_PG(PgSkipMessage());
    auto schema = ScratchSchema::Create(*dsn);
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = std::move(*schema);
  }

  std::string Query(const std::string& sql) {
    std::string value;
    absl::Status s = schema_->Exec(sql, &value);
    EXPECT_TRUE(s.ok()) << s;
    return value;
  }

  std::unique_ptr<ScratchSchema> schema_;
};

// A database that answers slowly: a lock another session holds makes every
// statement wait. Past the statement timeout the call fails with
// DEADLINE_EXCEEDED (the round engine then holds its commit), nothing is
// half-written, and the same connection works once the lock is gone.
TEST_F(PostgresStoreTest,
       StatementPastTheTimeoutIsDeadlineExceededAndLosesNothing) {
  auto store = PostgresStore::Connect(schema_->dsn(), absl::Milliseconds(300));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CommitVersion(MakeRecord(1, 0)).ok());
  std::thread blocker([this] {
    EXPECT_TRUE(schema_
                    ->Exec("BEGIN; LOCK TABLE model_versions IN ACCESS "
                           "EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;")
                    .ok());
  });
  std::string held;
  for (int i = 0; i < 200 && held != "1"; ++i) {
    held = Query(
        "SELECT count(*) FROM pg_locks WHERE granted AND mode = "
        "'AccessExclusiveLock' AND relation = 'model_versions'::regclass");
    if (held != "1") absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(held, "1");
  auto slow = (*store)->GetCurrent("mnist");
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded)
      << slow.status();
  absl::Status commit = (*store)->CommitVersion(MakeRecord(2, 1));
  EXPECT_EQ(commit.code(), StatusCode::kDeadlineExceeded) << commit;
  blocker.join();
  auto current = (*store)->GetCurrent("mnist");
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->version, 1);  // the cancelled commit left nothing
  EXPECT_TRUE((*store)->CommitVersion(MakeRecord(2, 1)).ok());
}

// A network to the database that stalls without closing: nothing the store
// sends gets an answer, and the statement timeout cannot help, since
// PostgreSQL never sees the statement. The call fails with UNAVAILABLE once
// the call timeout passes (the round engine then holds its commit), so does
// reconnecting while the stall lasts, the stalled commit leaves nothing, and
// the store works again once the network does.
TEST_F(PostgresStoreTest,
       StalledNetworkIsUnavailableAfterTheCallTimeoutAndLosesNothing) {
  const std::string host = store_testing::DsnValue(schema_->dsn(), "host");
  if (host.empty() || host[0] != '/') GTEST_SKIP() << "no socket to proxy";
  const std::string port = store_testing::DsnValue(schema_->dsn(), "port");
  const std::string socket =
      absl::StrCat("/.s.PGSQL.", port.empty() ? "5432" : port);
  // Socket paths are short (108 bytes): not under the test's folder.
  const std::string dir = absl::StrCat("/tmp/cohort-stall-", ::getpid());
  std::filesystem::create_directories(dir);
  testing::UnixSocketProxy proxy(dir + socket, host + socket);
  ASSERT_TRUE(proxy.Start().ok());
  const absl::Duration call_timeout = absl::Milliseconds(1500);
  auto store =
      PostgresStore::Connect(AppendDsnOption(schema_->dsn(), "host", dir),
                             absl::Milliseconds(300), call_timeout);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CommitVersion(MakeRecord(1, 0)).ok());

  proxy.Stall();
  absl::Time start = absl::Now();
  absl::Status commit = (*store)->CommitVersion(MakeRecord(2, 1));
  absl::Duration waited = absl::Now() - start;
  EXPECT_EQ(commit.code(), StatusCode::kUnavailable) << commit;
  EXPECT_TRUE(absl::StrContains(commit.message(), "no answer from PostgreSQL"))
      << commit;
  EXPECT_GE(waited, call_timeout);
  EXPECT_LT(waited, call_timeout + absl::Seconds(5));
  // Reconnecting meets the same stall: bounded by connect_timeout (2 s) or
  // the call timeout, whichever ends it.
  start = absl::Now();
  auto during = (*store)->GetCurrent("mnist");
  waited = absl::Now() - start;
  EXPECT_EQ(during.status().code(), StatusCode::kUnavailable)
      << during.status();
  EXPECT_LT(waited, absl::Seconds(8));

  proxy.Resume();
  auto current = (*store)->GetCurrent("mnist");
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->version, 1);  // the stalled commit left nothing
  EXPECT_TRUE((*store)->CommitVersion(MakeRecord(2, 1)).ok());
  proxy.Cut();
  std::filesystem::remove_all(dir);
}

TEST_F(PostgresStoreTest, MigrationsAreAppliedOnceAcrossConnects) {
  auto first = PostgresStore::Connect(schema_->dsn());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->CommitVersion(MakeRecord(1, 0)).ok());
  auto second = PostgresStore::Connect(schema_->dsn());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations"),
            absl::StrCat(LatestSchemaVersion()));
  EXPECT_EQ(Query("SELECT max(version) FROM schema_migrations"),
            absl::StrCat(LatestSchemaVersion()));
  auto current = (*second)->GetCurrent("mnist");
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->weights, "weights-1");
}

// A database last migrated by a binary without the release log (schema at
// migration 1, simulated by undoing migration 2) gains it on the next
// connect, with its version history intact.
TEST_F(PostgresStoreTest, ReleaseLogMigrationUpgradesAnOlderDatabase) {
  {
    auto old = PostgresStore::Connect(schema_->dsn());
    ASSERT_TRUE(old.ok()) << old.status();
    ASSERT_TRUE((*old)->CommitVersion(MakeRecord(1, 0)).ok());
  }
  // Migration 6 (leases) came after it and touches the releases table.
  Query("DROP TABLE current_release, releases, task_leases");
  Query("ALTER TABLE model_versions DROP COLUMN lease_epoch");
  Query("DELETE FROM schema_migrations WHERE version IN (2, 6)");
  auto store = PostgresStore::Connect(schema_->dsn());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Query("SELECT max(version) FROM schema_migrations"),
            absl::StrCat(LatestSchemaVersion()));
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations WHERE version = 2"),
            "1");
  auto current = (*store)->GetCurrent("mnist");
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->version, 1);
  absl::Status s =
      (*store)->AppendRelease(store_testing::MakeTestRelease("mnist", 1, 1));
  EXPECT_TRUE(s.ok()) << s;
}

// A database last migrated by a binary without enrollment tokens (simulated
// by undoing migration 4) gains the table on the next connect.
TEST_F(PostgresStoreTest, EnrollmentMigrationUpgradesAnOlderDatabase) {
  {
    auto old = PostgresStore::Connect(schema_->dsn());
    ASSERT_TRUE(old.ok()) << old.status();
    ASSERT_TRUE((*old)->CommitVersion(MakeRecord(1, 0)).ok());
  }
  Query("DROP TABLE enrollment_tokens");
  Query("DELETE FROM schema_migrations WHERE version = 4");
  auto store = PostgresStore::Connect(schema_->dsn());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations WHERE version = 4"),
            "1");
  EnrollmentTokenRecord token;
  token.token_sha256 = std::string(64, 'a');
  token.device_id = "phone-1";
  token.created_unix_ms = 1000;
  token.expires_unix_ms = 2000;
  token.created_by = "operator:alice";
  absl::Status added = (*store)->AddEnrollmentToken(token);
  ASSERT_TRUE(added.ok()) << added;
  auto used = (*store)->UseEnrollmentToken(token.token_sha256, "phone-1", 1500);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(Query("SELECT used_ms FROM enrollment_tokens"), "1500");
}

TEST_F(PostgresStoreTest, DatabaseMigratedByNewerBinaryIsFailedPrecondition) {
  ASSERT_TRUE(PostgresStore::Connect(schema_->dsn()).ok());
  Query(
      absl::StrCat("INSERT INTO schema_migrations (version, description) "
                   "VALUES (",
                   LatestSchemaVersion() + 1, ", 'from the future')"));
  auto store = PostgresStore::Connect(schema_->dsn());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition)
      << store.status();
}

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerDropsTheConnection) {
  const std::string app = UniqueName("cohort_store_test");
  auto store = PostgresStore::Connect(
      AppendDsnOption(schema_->dsn(), "application_name", app));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CommitVersion(MakeRecord(1, 0)).ok());
  EXPECT_EQ(Query(absl::StrCat("SELECT count(pg_terminate_backend(pid)) "
                               "FROM pg_stat_activity "
                               "WHERE application_name = '",
                               app, "'")),
            "1");
  auto current = (*store)->GetCurrent("mnist");
  ASSERT_TRUE(current.ok()) << current.status();
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->version, 1);
  EXPECT_TRUE((*store)->CommitVersion(MakeRecord(2, 1)).ok());
}

TEST_F(PostgresStoreTest, TextTheServerRejectsIsInvalidArgument) {
  auto store = PostgresStore::Connect(schema_->dsn());
  ASSERT_TRUE(store.ok()) << store.status();
  ModelVersionRecord r = MakeRecord(1, 0);
  r.architecture = "\xff\xfe not UTF-8";
  absl::Status s = (*store)->CommitVersion(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  auto current = (*store)->GetCurrent("mnist");
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_FALSE(current->has_value());
}

TEST_F(PostgresStoreTest, ReleaseTextTheServerRejectsIsInvalidArgument) {
  auto store = PostgresStore::Connect(schema_->dsn());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CommitVersion(MakeRecord(1, 0)).ok());
  ReleaseRecord r = store_testing::MakeTestRelease("mnist", 1, 1);
  r.reason = "\xff\xfe not UTF-8";
  absl::Status s = (*store)->AppendRelease(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  auto current = (*store)->GetCurrentRelease("mnist");
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_FALSE(current->has_value());
  // The failed transaction used up no number.
  r = store_testing::MakeTestRelease("mnist", 1, 1);
  EXPECT_TRUE((*store)->AppendRelease(r).ok());
}

}  // namespace
}  // namespace cohort::server
