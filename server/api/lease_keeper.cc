#include "server/api/lease_keeper.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/error_once.h"
#include "glog/logging.h"

namespace cohort::server {

LeaseKeeper::LeaseKeeper(LeaseTable* leases, std::string task,
                         std::string holder, LeaseTiming timing,
                         base::Clock* clock)
    : leases_(leases),
      task_(std::move(task)),
      holder_(std::move(holder)),
      timing_(timing),
      clock_(clock) {}

LeaseKeeper::~LeaseKeeper() { Finish(); }

absl::StatusOr<Lease> LeaseKeeper::AwaitLease(
    absl::Notification* stop,
    const std::function<void(const std::string&)>& on_standby) {
  base::ErrorOnce errors;
  std::string leader;
  while (!stop->HasBeenNotified()) {
    LeaseInfo current;
    absl::StatusOr<std::optional<Lease>> granted =
        leases_->TryAcquire(task_, holder_, timing_.ttl, &current);
    if (errors.ShouldLog(granted.status())) {
      LOG(ERROR) << "cannot try for the lease on task " << task_ << ": "
                 << granted.status();
    }
    if (granted.ok() && granted->has_value()) {
      LOG(INFO) << "leading task " << task_ << " as " << holder_
                << " under lease epoch " << (*granted)->epoch;
      return **granted;
    }
    std::string now =
        granted.ok()
            ? absl::StrCat("task ", task_, " is led by ", current.holder,
                           " (epoch ", current.epoch, ")")
            : absl::StrCat("cannot reach the lease table: ",
                           granted.status().message());
    if (granted.ok() && now != leader) {
      LOG(INFO) << now << "; standing by as " << holder_;
      leader = now;
    }
    if (on_standby) on_standby(now);
    stop->WaitForNotificationWithTimeout(timing_.poll_every);
  }
  return absl::CancelledError(
      absl::StrCat("stopped while standing by for task ", task_));
}

void LeaseKeeper::Keep(const Lease& lease, absl::Notification* stop,
                       absl::Notification* engine_stop,
                       std::function<void()> on_lost) {
  held_ = lease;
  renewer_ = std::thread(&LeaseKeeper::RenewLoop, this, lease, stop,
                         engine_stop, std::move(on_lost));
}

void LeaseKeeper::RenewLoop(Lease lease, absl::Notification* stop,
                            absl::Notification* engine_stop,
                            std::function<void()> on_lost) {
  // How soon a stop is noticed between renewals.
  const absl::Duration kStopPoll = absl::Milliseconds(50);
  base::ErrorOnce errors;
  // The lease lasts at least a ttl from when its last good renewal was sent.
  absl::Time valid_until = clock_->Now() + timing_.ttl;
  absl::Time next_renewal = clock_->Now() + timing_.renew_every;
  while (!stop->HasBeenNotified() &&
         !finishing_.WaitForNotificationWithTimeout(kStopPoll)) {
    const absl::Time sent = clock_->Now();
    if (sent < next_renewal) continue;
    next_renewal = sent + timing_.renew_every;
    absl::Status renewed = leases_->Renew(lease, timing_.ttl);
    if (renewed.ok()) {
      valid_until = sent + timing_.ttl;
      errors.ShouldLog(renewed);
      continue;
    }
    if (renewed.code() != absl::StatusCode::kAborted &&
        clock_->Now() < valid_until) {
      if (errors.ShouldLog(renewed)) {
        LOG(ERROR) << "cannot renew the lease on task " << task_
                   << " (trying again): " << renewed;
      }
      continue;
    }
    MarkLost(renewed);
    if (on_lost) on_lost();
    break;
  }
  engine_stop->Notify();
}

void LeaseKeeper::MarkLost(const absl::Status& why) {
  absl::Status lost = absl::AbortedError(
      absl::StrCat("lost the lease on task ", task_, " (epoch ", held_.epoch,
                   "): ", why.message()));
  LOG(ERROR) << lost.message() << "; stopping";
  absl::MutexLock lock(&mu_);
  lost_ = std::move(lost);
}

void LeaseKeeper::Finish() {
  if (!renewer_.joinable()) return;
  finishing_.Notify();
  renewer_.join();
  if (!lost().ok()) return;
  absl::Status released = leases_->Release(held_);
  if (released.ok()) {
    LOG(INFO) << "released the lease on task " << task_ << " (epoch "
              << held_.epoch << ")";
  } else {
    LOG(WARNING) << "cannot release the lease on task " << task_
                 << "; it ends by itself: " << released;
  }
}

absl::Status LeaseKeeper::lost() const {
  absl::MutexLock lock(&mu_);
  return lost_;
}

}  // namespace cohort::server
