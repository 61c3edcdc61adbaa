// LeaseKeeper against a scripted lease table: a standby waits for the
// grant, a leader renews, and a lost lease stops the engine and is not
// released; a kept one is released so a standby leads at once.

#include "server/api/lease_keeper.h"

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

const LeaseTiming kFast{.ttl = absl::Milliseconds(300),
                        .renew_every = absl::Milliseconds(100),
                        .poll_every = absl::Milliseconds(20)};

// Grants after `refusals` tries and answers renewals from a script (OK once
// the script runs out).
class ScriptedLeases final : public LeaseTable {
 public:
  int refusals = 0;
  absl::Status try_error;  // returned by the tries that are refused, if set

  absl::StatusOr<std::optional<Lease>> TryAcquire(const std::string& task,
                                                  const std::string& holder,
                                                  absl::Duration,
                                                  LeaseInfo* current) override {
    absl::MutexLock lock(&mu_);
    ++tries_;
    if (refusals > 0) {
      --refusals;
      if (!try_error.ok()) return try_error;
      *current = LeaseInfo{"other:1", 4, true};
      return std::nullopt;
    }
    return Lease{task, holder, 5};
  }
  absl::Status Renew(const Lease& lease, absl::Duration) override {
    absl::MutexLock lock(&mu_);
    ++renewals_;
    EXPECT_EQ(lease.epoch, 5);
    if (script_.empty()) return absl::OkStatus();
    absl::Status next = script_.front();
    script_.pop_front();
    return next;
  }
  absl::Status Release(const Lease& lease) override {
    absl::MutexLock lock(&mu_);
    released_.push_back(lease.epoch);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<LeaseInfo>> Get(const std::string&) override {
    return std::nullopt;
  }

  void Script(std::vector<absl::Status> answers) {
    absl::MutexLock lock(&mu_);
    script_.assign(answers.begin(), answers.end());
  }
  int tries() {
    absl::MutexLock lock(&mu_);
    return tries_;
  }
  int renewals() {
    absl::MutexLock lock(&mu_);
    return renewals_;
  }
  std::vector<int64_t> released() {
    absl::MutexLock lock(&mu_);
    return released_;
  }

 private:
  absl::Mutex mu_;
  int tries_ = 0;
  int renewals_ = 0;
  std::deque<absl::Status> script_;
  std::vector<int64_t> released_;
};

TEST(LeaseKeeperTest, StandbyWaitsForTheGrantAndSaysWhoLeads) {
  ScriptedLeases leases;
  leases.refusals = 3;
  LeaseKeeper keeper(&leases, "t", "me:1", kFast, base::RealClock::Get());
  absl::Notification stop;
  std::vector<std::string> heard;
  absl::StatusOr<Lease> lease = keeper.AwaitLease(
      &stop, [&](const std::string& why) { heard.push_back(why); });
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->epoch, 5);
  EXPECT_EQ(lease->holder, "me:1");
  EXPECT_EQ(leases.tries(), 4);
  ASSERT_EQ(heard.size(), 3u);
  EXPECT_EQ(heard[0], "task t is led by other:1 (epoch 4)");
}

TEST(LeaseKeeperTest, StoreErrorsWhileStandingByAreTriedAgain) {
  ScriptedLeases leases;
  leases.refusals = 2;
  leases.try_error = absl::UnavailableError("no database");
  LeaseKeeper keeper(&leases, "t", "me:1", kFast, base::RealClock::Get());
  absl::Notification stop;
  std::vector<std::string> heard;
  absl::StatusOr<Lease> lease = keeper.AwaitLease(
      &stop, [&](const std::string& why) { heard.push_back(why); });
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0], "cannot reach the lease table: no database");
}

TEST(LeaseKeeperTest, StopWhileStandingByIsCancelled) {
  ScriptedLeases leases;
  leases.refusals = 1 << 30;
  LeaseKeeper keeper(&leases, "t", "me:1", kFast, base::RealClock::Get());
  absl::Notification stop;
  stop.Notify();
  EXPECT_EQ(keeper.AwaitLease(&stop).status().code(),
            absl::StatusCode::kCancelled);
}

TEST(LeaseKeeperTest, KeptLeaseIsRenewedAndReleasedOnStop) {
  ScriptedLeases leases;
  LeaseKeeper keeper(&leases, "t", "me:1", kFast, base::RealClock::Get());
  absl::Notification stop, engine_stop;
  bool lost_called = false;
  keeper.Keep(Lease{"t", "me:1", 5}, &stop, &engine_stop,
              [&] { lost_called = true; });
  while (leases.renewals() < 3) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE(engine_stop.HasBeenNotified());
  stop.Notify();
  EXPECT_TRUE(engine_stop.WaitForNotificationWithTimeout(absl::Seconds(30)));
  keeper.Finish();
  EXPECT_FALSE(lost_called);
  EXPECT_TRUE(keeper.lost().ok());
  EXPECT_EQ(leases.released(), std::vector<int64_t>{5});
}

TEST(LeaseKeeperTest, AbortedRenewalIsALostLeaseThatStopsTheEngine) {
  ScriptedLeases leases;
  leases.Script({absl::OkStatus(),
                 absl::AbortedError("lease epoch 5 is no longer live")});
  LeaseKeeper keeper(&leases, "t", "me:1", kFast, base::RealClock::Get());
  absl::Notification stop, engine_stop;
  bool lost_called = false;
  keeper.Keep(Lease{"t", "me:1", 5}, &stop, &engine_stop,
              [&] { lost_called = true; });
  EXPECT_TRUE(engine_stop.WaitForNotificationWithTimeout(absl::Seconds(30)));
  keeper.Finish();
  EXPECT_TRUE(lost_called);
  EXPECT_EQ(keeper.lost().code(), absl::StatusCode::kAborted);
  EXPECT_NE(keeper.lost().message().find("lost the lease on task t (epoch 5)"),
            std::string::npos)
      << keeper.lost();
  EXPECT_TRUE(leases.released().empty());
  EXPECT_FALSE(stop.HasBeenNotified());
}

// Renewals that fail for a whole ttl: the lease may have ended, so the
// leader stops even though nobody said it lost.
TEST(LeaseKeeperTest, RenewalsFailingForATtlAreALostLease) {
  ScriptedLeases leases;
  leases.Script(
      std::vector<absl::Status>(100, absl::UnavailableError("no database")));
  LeaseKeeper keeper(&leases, "t", "me:1", kFast, base::RealClock::Get());
  absl::Notification stop, engine_stop;
  keeper.Keep(Lease{"t", "me:1", 5}, &stop, &engine_stop);
  EXPECT_TRUE(engine_stop.WaitForNotificationWithTimeout(absl::Seconds(30)));
  keeper.Finish();
  EXPECT_EQ(keeper.lost().code(), absl::StatusCode::kAborted);
  EXPECT_NE(keeper.lost().message().find("no database"), std::string::npos);
  EXPECT_GE(leases.renewals(), 2);  // tried again before giving up
}

TEST(LeaseKeeperTest, FinishWithoutStopEndsTheRenewals) {
  ScriptedLeases leases;
  LeaseKeeper keeper(&leases, "t", "me:1", kFast, base::RealClock::Get());
  absl::Notification stop, engine_stop;
  keeper.Keep(Lease{"t", "me:1", 5}, &stop, &engine_stop);
  keeper.Finish();  // the engine ended on its own (max_rounds)
  EXPECT_TRUE(engine_stop.HasBeenNotified());
  EXPECT_EQ(leases.released(), std::vector<int64_t>{5});
  keeper.Finish();  // idempotent
  EXPECT_EQ(leases.released().size(), 1u);
}

}  // namespace
}  // namespace cohort::server
