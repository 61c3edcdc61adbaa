#ifndef COHORT_SERVER_API_LEASE_KEEPER_H_
#define COHORT_SERVER_API_LEASE_KEEPER_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "server/store/lease_table.h"

namespace cohort::server {

// How a coordinator holds its task's lease (CoordinationOptions).
struct LeaseTiming {
  absl::Duration ttl = absl::Seconds(10);
  absl::Duration renew_every = absl::Seconds(10) / 3;
  absl::Duration poll_every = absl::Seconds(1);
};

// Gets and keeps one coordinator's lease on its task (DECISIONS.md,
// "Several coordinators"): a standby polls for it, a leader renews it on a
// thread of its own and stops its engine the moment it may have lost it.
//
//   LeaseKeeper keeper(leases, task, holder, timing, clock);
//   absl::StatusOr<Lease> lease = keeper.AwaitLease(&stop);   // standby
//   keeper.Keep(*lease, &stop, &engine_stop, on_lost);          // leader
//   engine.Run(&engine_stop);
//   keeper.Finish();
//   return keeper.lost();
class LeaseKeeper {
 public:
  LeaseKeeper(LeaseTable* leases, std::string task, std::string holder,
              LeaseTiming timing, base::Clock* clock);
  ~LeaseKeeper();  // Finish()
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Tries for the lease every poll_every until it is granted; CANCELLED
  // once `stop` is notified. Store errors are logged (once while they
  // repeat) and tried again. After each try that is not granted,
  // `on_standby` (may be empty) hears why, e.g. "task mnist is led by b:81
  // (epoch 4)" or "cannot reach the lease table: ...".
  absl::StatusOr<Lease> AwaitLease(
      absl::Notification* stop,
      const std::function<void(const std::string&)>& on_standby = {});

  // Renews `lease` every renew_every on a thread of its own. When `stop` is
  // notified, Finish() is called, or the lease is lost (a renewal is ABORTED,
  // or none has succeeded for a whole ttl since the last good one was sent), it
  // calls `on_lost` (only on loss; may be empty) and notifies `engine_stop`.
  void Keep(const Lease& lease, absl::Notification* stop,
            absl::Notification* engine_stop,
            std::function<void()> on_lost = {});

  // Stops renewing (notifying `engine_stop` if Keep's thread had not yet)
  // and joins the thread; if the lease was kept to the end, releases it so
  // that a standby leads at once. Idempotent.
  void Finish();

  // OK, or ABORTED "lost the lease on task <task>: ..." once it was lost.
  absl::Status lost() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Renews until stopped or lost (the thread's body).
  void RenewLoop(Lease lease, absl::Notification* stop,
                 absl::Notification* engine_stop,
                 std::function<void()> on_lost);
  void MarkLost(const absl::Status& why) ABSL_LOCKS_EXCLUDED(mu_);

  LeaseTable* const leases_;
  const std::string task_;
  const std::string holder_;
  const LeaseTiming timing_;
  base::Clock* const clock_;
  absl::Notification finishing_;  // Finish() was called
  std::thread renewer_;
  Lease held_;  // Written by Keep before the thread starts.
  mutable absl::Mutex mu_;
  absl::Status lost_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_LEASE_KEEPER_H_
