// Task leases on PostgreSQL and the fence they put on every write: a
// coordinator that lost its lease cannot commit a version or append a
// release, and a coordinator that takes a lease over sees every write its
// predecessor made. Cases need COHORT_TEST_PG_DSN (skipped without it unless
// COHORT_TEST_REQUIRE_PG is set).

#include "server/store/postgres_leases.h"

#include <atomic>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/store/postgres_store.h"
#include "tests/server/store/store_test_util.h"
#include "tests/testing/pg_env.h"

namespace cohort::server {
namespace {

using ::absl::StatusCode;
using store_testing::MakeTestRecord;
using store_testing::MakeTestRelease;
using store_testing::PgSkipMessage;
using store_testing::ScratchSchema;
using store_testing::TestPgDsn;

constexpr char kTask[] = "mnist";
const absl::Duration kLong = absl::Minutes(5);

// One coordinator's view of the database: a store and a lease table.
struct Coordinator {
  std::unique_ptr<PostgresStore> store;
  std::unique_ptr<PostgresLeases> leases;
};

ModelVersionRecord Fenced(int64_t version, int64_t parent, int64_t epoch) {
  ModelVersionRecord r = MakeTestRecord(kTask, version, parent);
  r.lease_epoch = epoch;
  return r;
}

ReleaseRecord FencedRelease(int64_t release, int64_t version, int64_t epoch) {
  ReleaseRecord r = MakeTestRelease(kTask, release, version);
  r.lease_epoch = epoch;
  return r;
}

class PostgresLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> dsn = TestPgDsn();
    if (!dsn) COHORT_SKIP_OR_FAIL_WITHOUT_PG(PgSkipMessage());
    auto schema = ScratchSchema::Create(*dsn);
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = std::move(*schema);
  }

  Coordinator Connect() {
    Coordinator c;
    auto store = PostgresStore::Connect(schema_->dsn(), absl::Seconds(30),
                                        absl::Seconds(60));
    EXPECT_TRUE(store.ok()) << store.status();
    if (store.ok()) c.store = std::move(*store);
    auto leases = PostgresLeases::Connect(schema_->dsn(), absl::Seconds(30),
                                          absl::Seconds(60));
    EXPECT_TRUE(leases.ok()) << leases.status();
    if (leases.ok()) c.leases = std::move(*leases);
    return c;
  }

  // A lease that is certain to be granted.
  Lease Acquire(Coordinator& c, const std::string& holder,
                absl::Duration ttl = kLong) {
    auto lease = c.leases->TryAcquire(kTask, holder, ttl, nullptr);
    EXPECT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE(lease.ok() && lease->has_value()) << holder << " not granted";
    return lease.ok() && lease->has_value() ? **lease : Lease{};
  }

  // Ends every lease now, as the passing of its ttl would.
  void ExpireLeases() {
    ASSERT_TRUE(schema_
                    ->Exec("UPDATE task_leases SET expires_at = "
                           "clock_timestamp() - interval '1 second'")
                    .ok());
  }

  // Polls until at least `n` lock requests wait in this database.
  void AwaitWaiters(int n) {
    std::string waiting;
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(schema_
                      ->Exec("SELECT count(*) FROM pg_locks WHERE NOT granted",
                             &waiting)
                      .ok());
      if (std::stoi(waiting) >= n) return;
      absl::SleepFor(absl::Milliseconds(10));
    }
    FAIL() << "only " << waiting << " of " << n << " lock requests wait";
  }

  int64_t CurrentVersion(Coordinator& c) {
    auto current = c.store->GetCurrent(kTask);
    EXPECT_TRUE(current.ok()) << current.status();
    return current.ok() && current->has_value() ? (*current)->version : 0;
  }

  std::unique_ptr<ScratchSchema> schema_;
};

TEST_F(PostgresLeasesTest, FirstGrantIsEpochOneAndALiveLeaseIsNotGrantedAgain) {
  Coordinator a = Connect();
  Coordinator b = Connect();
  EXPECT_FALSE(a.leases->Get(kTask)->has_value());
  Lease lease = Acquire(a, "a");
  EXPECT_EQ(lease.epoch, 1);
  EXPECT_EQ(lease.holder, "a");
  LeaseInfo current;
  auto refused = b.leases->TryAcquire(kTask, "b", kLong, &current);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->has_value());
  EXPECT_EQ(current.holder, "a");
  EXPECT_EQ(current.epoch, 1);
  EXPECT_TRUE(current.live);
  // The holder's name proves nothing: the same name waits too.
  auto again = b.leases->TryAcquire(kTask, "a", kLong, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->has_value());
  EXPECT_TRUE(a.leases->Renew(lease, kLong).ok());
}

TEST_F(PostgresLeasesTest, ExpiredLeaseGoesToTheNextEpochAndCannotBeRenewed) {
  Coordinator a = Connect();
  Coordinator b = Connect();
  Lease first = Acquire(a, "a");
  ExpireLeases();
  absl::Status late = a.leases->Renew(first, kLong);
  EXPECT_EQ(late.code(), StatusCode::kAborted) << late;
  Lease second = Acquire(b, "b");
  EXPECT_EQ(second.epoch, 2);
  absl::Status lost = a.leases->Renew(first, kLong);
  EXPECT_EQ(lost.code(), StatusCode::kAborted) << lost;
  EXPECT_TRUE(absl::StrContains(lost.message(), "epoch 2 of b")) << lost;
  EXPECT_TRUE(b.leases->Renew(second, kLong).ok());
}

TEST_F(PostgresLeasesTest,
       ReleaseLetsAnotherTakeOverAtOnceAndEpochsNeverRepeat) {
  Coordinator a = Connect();
  Coordinator b = Connect();
  Lease first = Acquire(a, "a");
  ASSERT_TRUE(a.leases->Release(first).ok());
  EXPECT_FALSE((*a.leases->Get(kTask))->live);
  Lease second = Acquire(b, "b");
  EXPECT_EQ(second.epoch, 2);
  EXPECT_TRUE(a.leases->Release(first).ok());  // no effect on epoch 2
  EXPECT_TRUE((*a.leases->Get(kTask))->live);
  ASSERT_TRUE(b.leases->Release(second).ok());
  EXPECT_EQ(Acquire(a, "a").epoch, 3);
}

TEST_F(PostgresLeasesTest, BadArgumentsAreInvalidArgument) {
  Coordinator a = Connect();
  EXPECT_EQ(a.leases->TryAcquire("../x", "a", kLong, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.leases->TryAcquire(kTask, "", kLong, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.leases->TryAcquire(kTask, std::string("a\0b", 3), kLong, nullptr)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.leases->TryAcquire(kTask, "a", absl::ZeroDuration(), nullptr)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(a.leases->Get(kTask)->has_value());
}

TEST_F(PostgresLeasesTest, FencedWritesStoreTheirEpoch) {
  Coordinator a = Connect();
  Lease lease = Acquire(a, "a");
  ASSERT_TRUE(a.store->CommitVersion(Fenced(1, 0, lease.epoch)).ok());
  ASSERT_TRUE(a.store->AppendRelease(FencedRelease(1, 1, lease.epoch)).ok());
  auto versions = a.store->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ((*versions)[0].lease_epoch, 1);
  EXPECT_EQ(a.store->GetVersion(kTask, 1)->lease_epoch, 1);
  EXPECT_EQ(a.store->GetRelease(kTask, 1)->lease_epoch, 1);
}

TEST_F(PostgresLeasesTest, DeposedWriterIsAbortedAndWritesNothing) {
  Coordinator a = Connect();
  Coordinator b = Connect();
  Lease first = Acquire(a, "a");
  ASSERT_TRUE(a.store->CommitVersion(Fenced(1, 0, first.epoch)).ok());
  ASSERT_TRUE(a.store->AppendRelease(FencedRelease(1, 1, first.epoch)).ok());
  ExpireLeases();
  // Expired, not yet taken over: still refused.
  absl::Status expired = a.store->CommitVersion(Fenced(2, 1, first.epoch));
  EXPECT_EQ(expired.code(), StatusCode::kAborted) << expired;
  Lease second = Acquire(b, "b");
  absl::Status commit = a.store->CommitVersion(Fenced(2, 1, first.epoch));
  EXPECT_EQ(commit.code(), StatusCode::kAborted) << commit;
  absl::Status release =
      a.store->AppendRelease(FencedRelease(2, 1, first.epoch));
  EXPECT_EQ(release.code(), StatusCode::kAborted) << release;
  EXPECT_EQ(CurrentVersion(a), 1);
  EXPECT_EQ(a.store->ListVersions(kTask)->size(), 1u);
  EXPECT_EQ(a.store->ListReleases(kTask)->size(), 1u);
  EXPECT_TRUE(b.store->CommitVersion(Fenced(2, 1, second.epoch)).ok());
  EXPECT_TRUE(b.store->AppendRelease(FencedRelease(2, 2, second.epoch)).ok());
}

TEST_F(PostgresLeasesTest, UnleasedWriteIsRefusedOnlyWhileALeaseIsLive) {
  Coordinator a = Connect();
  Coordinator plain = Connect();
  ASSERT_TRUE(plain.store->CommitVersion(Fenced(1, 0, 0)).ok());
  Lease lease = Acquire(a, "a");
  absl::Status refused = plain.store->CommitVersion(Fenced(2, 1, 0));
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "led through leases"))
      << refused;
  EXPECT_EQ(plain.store->AppendRelease(FencedRelease(1, 1, 0)).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(CurrentVersion(a), 1);
  ASSERT_TRUE(a.leases->Release(lease).ok());
  EXPECT_TRUE(plain.store->CommitVersion(Fenced(2, 1, 0)).ok());
}

// The lease the commit key guards (CommitVersion's advisory lock).
std::string CommitLockSql(const std::string& task) {
  return absl::StrCat(
      "SELECT pg_advisory_lock(hashtextextended('cohort.task/' || "
      "COALESCE(current_schema(), '') || '/' || '",
      task, "', 0))");
}

// Two writers: A's commit is held back before the fence while its lease
// expires and B takes the task over. When A's commit goes on, the fence
// refuses it, so B's history is the only one.
TEST_F(PostgresLeasesTest, LeaseLostMidCommitDoesNotCommit) {
  Coordinator a = Connect();
  Coordinator b = Connect();
  Lease first = Acquire(a, "a");
  ASSERT_TRUE(a.store->CommitVersion(Fenced(1, 0, first.epoch)).ok());
  pqxx::connection blocker(schema_->dsn());
  pqxx::nontransaction(blocker).exec(CommitLockSql(kTask));
  absl::Status a_commit;
  std::thread writer(
      [&] { a_commit = a.store->CommitVersion(Fenced(2, 1, first.epoch)); });
  AwaitWaiters(1);
  ExpireLeases();
  Lease second = Acquire(b, "b");
  pqxx::nontransaction(blocker).exec("SELECT pg_advisory_unlock_all()");
  writer.join();
  EXPECT_EQ(a_commit.code(), StatusCode::kAborted) << a_commit;
  EXPECT_EQ(CurrentVersion(b), 1);
  EXPECT_TRUE(b.store->CommitVersion(Fenced(2, 1, second.epoch)).ok());
  EXPECT_EQ(b.store->GetVersion(kTask, 2)->lease_epoch, second.epoch);
}

// A's commit has passed the fence and is held back inside its transaction
// when its lease expires: B's grant waits for it, and B then sees A's
// version, so B's next commit names it as parent instead of forking.
TEST_F(PostgresLeasesTest, TakeoverWaitsForAWritePastTheFence) {
  Coordinator a = Connect();
  Coordinator b = Connect();
  Lease first = Acquire(a, "a");
  ASSERT_TRUE(a.store->CommitVersion(Fenced(1, 0, first.epoch)).ok());
  pqxx::connection blocker(schema_->dsn());
  auto table_lock = std::make_unique<pqxx::work>(blocker);
  table_lock->exec("LOCK TABLE current_version IN ACCESS EXCLUSIVE MODE");
  absl::Status a_commit;
  std::thread writer(
      [&] { a_commit = a.store->CommitVersion(Fenced(2, 1, first.epoch)); });
  AwaitWaiters(1);  // A holds the lease row FOR KEY SHARE and waits
  ExpireLeases();
  std::optional<Lease> second;
  int64_t seen_by_b = -1;
  std::thread taker([&] {
    auto lease = b.leases->TryAcquire(kTask, "b", kLong, nullptr);
    EXPECT_TRUE(lease.ok()) << lease.status();
    if (lease.ok()) second = *lease;
    seen_by_b = CurrentVersion(b);
  });
  AwaitWaiters(2);  // B's grant waits for A's transaction
  table_lock->commit();
  writer.join();
  taker.join();
  EXPECT_TRUE(a_commit.ok()) << a_commit;
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->epoch, 2);
  EXPECT_EQ(seen_by_b, 2);
  EXPECT_EQ(b.store->CommitVersion(Fenced(2, 1, second->epoch)).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(b.store->CommitVersion(Fenced(3, 2, second->epoch)).ok());
}

// Two coordinators race for the task with short leases, pausing past them
// now and then: whoever commits, the history stays one chain, epochs never
// go back along it, and every commit reported as done is stored once.
TEST_F(PostgresLeasesTest, TwoWritersNeverFork) {
  constexpr int kVersions = 30;
  const absl::Duration ttl = absl::Milliseconds(150);
  std::atomic<bool> done{false};
  struct Outcome {
    std::vector<std::pair<int64_t, int64_t>> committed;  // version, epoch
    std::vector<absl::Status> refused;
  };
  auto run = [&](const std::string& name, uint32_t seed, Outcome* out) {
    Coordinator c = Connect();
    std::mt19937 rng(seed);
    std::optional<Lease> lease;
    for (int step = 0; !done.load() && step < 2000; ++step) {
      if (!lease.has_value()) {
        auto granted = c.leases->TryAcquire(kTask, name, ttl, nullptr);
        ASSERT_TRUE(granted.ok()) << granted.status();
        lease = *granted;
        if (!lease.has_value()) absl::SleepFor(absl::Milliseconds(10));
        continue;
      }
      const int64_t current = CurrentVersion(c);
      if (current >= kVersions) break;
      // Every fifth step pauses past the ttl, so leases change hands.
      absl::SleepFor(step % 5 == 4 ? ttl + absl::Milliseconds(50)
                                   : absl::Milliseconds(rng() % 40));
      absl::Status s =
          c.store->CommitVersion(Fenced(current + 1, current, lease->epoch));
      if (s.ok()) {
        out->committed.emplace_back(current + 1, lease->epoch);
      } else {
        out->refused.push_back(s);
        if (s.code() == StatusCode::kAborted) lease.reset();
      }
    }
    done = true;
  };
  Outcome a, b;
  std::thread ta(run, "a", 1, &a);
  std::thread tb(run, "b", 2, &b);
  ta.join();
  tb.join();
  Coordinator reader = Connect();
  auto versions = reader.store->ListVersions(kTask);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_GE(versions->size(), 2u);
  int64_t epoch = 0;
  for (size_t i = 0; i < versions->size(); ++i) {
    const ModelVersionRecord& v = (*versions)[i];
    EXPECT_EQ(v.version, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(v.parent, static_cast<int64_t>(i));
    EXPECT_GE(v.lease_epoch, epoch) << "version " << v.version;
    epoch = v.lease_epoch;
  }
  EXPECT_GE(epoch, 2) << "no lease changed hands";
  std::vector<std::pair<int64_t, int64_t>> reported = a.committed;
  reported.insert(reported.end(), b.committed.begin(), b.committed.end());
  EXPECT_EQ(reported.size(), versions->size());
  for (const auto& [version, lease_epoch] : reported) {
    ASSERT_LE(version, static_cast<int64_t>(versions->size()));
    EXPECT_EQ((*versions)[version - 1].lease_epoch, lease_epoch);
  }
  for (const Outcome* o : {&a, &b}) {
    for (const absl::Status& s : o->refused) {
      EXPECT_TRUE(s.code() == StatusCode::kAborted ||
                  s.code() == StatusCode::kFailedPrecondition)
          << s;
    }
  }
}

}  // namespace
}  // namespace cohort::server
