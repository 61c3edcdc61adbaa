#ifndef COHORT_SERVER_ROUND_LEADERSHIP_H_
#define COHORT_SERVER_ROUND_LEADERSHIP_H_

#include <atomic>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cohort/v1/coordinator.pb.h"

namespace cohort::server {

// Whether this coordinator leads its task, when several share one store
// (CoordinationConfig; server/store/lease_table.h), and what its devices
// are told while it stands by: a RetryWindow with cause "standby" over the
// round's retry bounds. A coordinator that is alone leads from the start.
// Thread-safe.
class Leadership {
 public:
  Leadership(absl::Duration retry_min, absl::Duration retry_max)
      : retry_min_(retry_min), retry_max_(retry_max) {}

  // Devices are told to come back; `reason` says why, for people (e.g.
  // "task mnist is led by host-b:812").
  void StandBy(const std::string& reason);
  void Lead() { leading_.store(true); }
  bool leading() const { return leading_.load(); }

  // The answer to a check-in while standing by.
  cohort::v1::RetryWindow StandbyRetry() const;

 private:
  const absl::Duration retry_min_;
  const absl::Duration retry_max_;
  std::atomic<bool> leading_{true};
  mutable absl::Mutex mu_;
  std::string reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_ROUND_LEADERSHIP_H_
