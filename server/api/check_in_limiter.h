#ifndef COHORT_SERVER_API_CHECK_IN_LIMITER_H_
#define COHORT_SERVER_API_CHECK_IN_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace cohort::server {

// How many check-ins one source may make: a token bucket that holds `burst`
// check-ins and refills at `per_second` (ConnectionLimits.check_in_rate,
// check_in_burst).
struct CheckInRate {
  double per_second = 5;
  int burst = 20;
};

// Admission of check-ins per source: a device's certificate name under mTLS,
// else its connection (DevicePeer). An agent checks in once per attempt and
// then waits out its RetryWindow, so only a source that ignores the
// coordinator's answers (a flood) meets the limit; it is refused before the
// round is asked, and a device backs off on RESOURCE_EXHAUSTED. This keeps
// well-behaved devices' check-in latency near idle while a few connections
// check in back to back (docs/RELIABILITY.md, "Load").
//
// Memory is bounded: a bucket that has refilled is the same as none and is
// dropped when the table reaches `max_sources`; a new source that still
// finds the table full is admitted without a bucket (logged once).
//
// Thread-safe.
class CheckInLimiter;

// The source CheckInLimiter counts a Participate stream against: "device
// <cert_name>" under mTLS, else "connection <DevicePeer(grpc_peer)>".
std::string CheckInSource(absl::string_view cert_name,
                          absl::string_view grpc_peer);

class CheckInLimiter {
 public:
  static constexpr size_t kMaxSources = 1 << 16;

  CheckInLimiter(CheckInRate rate, const base::Clock* clock,
                 size_t max_sources = kMaxSources);

  // OK and one token taken, or RESOURCE_EXHAUSTED saying when the next
  // check-in from `source` would be admitted.
  absl::Status Admit(absl::string_view source);

  // Sources with a bucket (for tests and the memory bound).
  size_t sources() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  // Tokens in `b` at `now`, at most burst.
  double Refilled(const Bucket& b, absl::Time now) const;
  // Drops every bucket that has refilled.
  void DropFullLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CheckInRate rate_;
  const base::Clock* const clock_;
  const size_t max_sources_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  bool warned_full_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_CHECK_IN_LIMITER_H_
