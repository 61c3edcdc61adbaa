// Several coordinators for one task on one PostgreSQL (issue 17, item 2),
// with real cohort-server processes: one leads through a lease while the
// other stands by and turns devices away with a RetryWindow (cause
// "standby"); when the leader is killed (kill -9), frozen past its lease or
// stopped, the standby takes the task over, resumes from the last committed
// version and release, and commits on it. No version is committed twice and
// the history stays one chain whose lease epochs never go back.

#include <csignal>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/store/postgres_store.h"
#include "tests/integration/admin_fixture.h"
#include "tests/testing/pg_env.h"

namespace cohort::testing {
namespace {

constexpr int64_t kLeaseMs = 2000;

class FailoverTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    dsn_ = PgDsn();
    if (dsn_.empty())
      COHORT_SKIP_OR_FAIL_WITHOUT_PG("COHORT_TEST_PG_DSN is unset");
    task_ = UniqueTask();
  }

  // A coordinator of the shared task named `holder` (also its file names).
  std::unique_ptr<Subprocess> Coordinator(const std::string& holder) {
    ServerOptions o;
    o.store = absl::StrCat("backend: POSTGRES postgres_dsn: \"", dsn_, "\"");
    o.task = task_;
    o.goal = 2;
    o.max_rounds = 0;
    o.mtls = false;  // the probes check in without a certificate
    o.extra =
        absl::StrCat(SigningConfig(), " coordination { lease_ms: ", kLeaseMs,
                     " holder: \"", holder, "\" }");
    return StartServer(o, holder);
  }

  // The cause of the RetryWindow the coordinator on `port` answers a
  // check-in with; "assigned" for an assignment, "" for no answer.
  std::string Answer(int port) {
    auto stub = TlsStub(port);
    std::optional<cohort::v1::ServerMessage> reply = FirstAnswer(
        *stub, absl::StrCat("probe-", ++probes_), absl::Seconds(10));
    if (!reply.has_value()) return "";
    if (reply->has_task_assignment()) return "assigned";
    return reply->retry_window().cause();
  }

  // Whether the coordinator on `port` stops standing by within `limit`.
  bool Leads(int port, absl::Duration limit) {
    return PollUntil(limit, [&] {
      const std::string answer = Answer(port);
      return !answer.empty() && answer != "standby";
    });
  }

  std::unique_ptr<server::PostgresStore> Store() {
    auto store = server::PostgresStore::Connect(dsn_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // The task's history is one chain of versions, each released once in
  // order, with lease epochs that never go back; returns the highest epoch.
  int64_t ExpectOneChain() {
    auto store = Store();
    if (store == nullptr) return 0;
    auto versions = store->ListVersions(task_);
    EXPECT_TRUE(versions.ok()) << versions.status();
    if (!versions.ok()) return 0;
    int64_t epoch = 0;
    for (size_t i = 0; i < versions->size(); ++i) {
      const server::ModelVersionRecord& v = (*versions)[i];
      EXPECT_EQ(v.version, static_cast<int64_t>(i) + 1);
      EXPECT_EQ(v.parent, static_cast<int64_t>(i));
      EXPECT_GE(v.lease_epoch, epoch) << "version " << v.version;
      EXPECT_GE(v.lease_epoch, 1) << "version " << v.version;
      epoch = v.lease_epoch;
    }
    auto releases = store->ListReleases(task_);
    EXPECT_TRUE(releases.ok()) << releases.status();
    if (!releases.ok()) return epoch;
    int64_t last_version = 0;
    for (size_t i = 0; i < releases->size(); ++i) {
      EXPECT_EQ((*releases)[i].release, static_cast<int64_t>(i) + 1);
      EXPECT_GT((*releases)[i].version, last_version);
      last_version = (*releases)[i].version;
    }
    return epoch;
  }

  int Committed(const std::string& holder) {
    return CommittedRounds(absl::StrCat(dir_, "/", holder, "-run/metrics.csv"));
  }

  std::string dsn_;
  std::string task_;
  int probes_ = 0;
};

TEST_F(FailoverTest, StandbyTurnsDevicesAwayAndTakesOverAfterKill9) {
  auto a = Coordinator("a");
  const int a_port = WaitForPort(*a, "a");
  ASSERT_GT(a_port, 0) << a->Log();
  ASSERT_TRUE(Leads(a_port, absl::Seconds(30))) << a->Log();
  auto b = Coordinator("b");
  const int b_port = WaitForPort(*b, "b");
  ASSERT_GT(b_port, 0) << b->Log();
  EXPECT_EQ(Answer(b_port), "standby") << b->Log();

  auto a0 = StartAgent(0, a_port, task_, Pinned());
  auto a1 = StartAgent(1, a_port, task_, Pinned());
  ASSERT_TRUE(PollUntil(absl::Seconds(90), [&] { return Committed("a") >= 1; }))
      << a->Log();
  a->Signal(SIGKILL);
  a->Wait(absl::Seconds(10));
  a0->Signal(SIGTERM);
  a1->Signal(SIGTERM);

  ASSERT_TRUE(Leads(b_port, absl::Seconds(30))) << b->Log();
  auto b0 = StartAgent(2, b_port, task_, Pinned());
  auto b1 = StartAgent(3, b_port, task_, Pinned());
  ASSERT_TRUE(PollUntil(absl::Seconds(90), [&] { return Committed("b") >= 1; }))
      << b->Log();
  // The killed coordinator comes back as a standby.
  auto a_again = Coordinator("a2");
  const int a2_port = WaitForPort(*a_again, "a2");
  ASSERT_GT(a2_port, 0) << a_again->Log();
  EXPECT_EQ(Answer(a2_port), "standby") << a_again->Log();

  b->Signal(SIGTERM);
  EXPECT_EQ(b->Wait(absl::Seconds(30)), std::optional<int>(0)) << b->Log();
  EXPECT_GE(ExpectOneChain(), 2);
  // B stopped cleanly and released its lease: the restarted one leads.
  EXPECT_TRUE(Leads(a2_port, absl::Seconds(30))) << a_again->Log();
  a_again->Signal(SIGTERM);
  EXPECT_EQ(a_again->Wait(absl::Seconds(30)), std::optional<int>(0))
      << a_again->Log();
  b0->Signal(SIGTERM);
  b1->Signal(SIGTERM);
}

// A leader frozen past its lease (SIGSTOP: a paused VM, a long GC) is
// deposed; when it wakes it finds its lease gone, writes nothing and exits
// with status 1, to be restarted as a standby.
TEST_F(FailoverTest, FrozenLeaderIsDeposedAndExitsWithoutWriting) {
  auto a = Coordinator("a");
  const int a_port = WaitForPort(*a, "a");
  ASSERT_GT(a_port, 0) << a->Log();
  ASSERT_TRUE(Leads(a_port, absl::Seconds(30))) << a->Log();
  auto b = Coordinator("b");
  ASSERT_GT(WaitForPort(*b, "b"), 0) << b->Log();
  auto a0 = StartAgent(0, a_port, task_, Pinned());
  auto a1 = StartAgent(1, a_port, task_, Pinned());
  ASSERT_TRUE(PollUntil(absl::Seconds(90), [&] { return Committed("a") >= 1; }))
      << a->Log();

  a->Signal(SIGSTOP);
  const int b_port = PortInFile(dir_ + "/b.port");
  ASSERT_TRUE(Leads(b_port, absl::Seconds(30))) << b->Log();
  auto b0 = StartAgent(2, b_port, task_, Pinned());
  auto b1 = StartAgent(3, b_port, task_, Pinned());
  ASSERT_TRUE(PollUntil(absl::Seconds(90), [&] { return Committed("b") >= 1; }))
      << b->Log();
  a->Signal(SIGCONT);
  EXPECT_EQ(a->Wait(absl::Seconds(30)), std::optional<int>(1)) << a->Log();
  EXPECT_TRUE(absl::StrContains(a->Log(), "lost the lease")) << a->Log();
  b->Signal(SIGTERM);
  EXPECT_EQ(b->Wait(absl::Seconds(30)), std::optional<int>(0)) << b->Log();
  EXPECT_GE(ExpectOneChain(), 2);
  for (auto* agent : {a0.get(), a1.get(), b0.get(), b1.get()}) {
    agent->Signal(SIGTERM);
  }
}

}  // namespace
}  // namespace cohort::testing
