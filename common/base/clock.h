#ifndef COHORT_COMMON_BASE_CLOCK_H_
#define COHORT_COMMON_BASE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cohort::base {

// Source of the current time. Injected wherever code reads the time so that
// tests and the simulator can drive it. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks the caller for `d` of this clock's time.
  virtual void Sleep(absl::Duration d) = 0;
};

// Wall-clock time. Stateless; RealClock::Get() is shared by all users.
class RealClock final : public Clock {
 public:
  static RealClock* Get();
  absl::Time Now() const override { return absl::Now(); }
  void Sleep(absl::Duration d) override { absl::SleepFor(d); }
};

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_CLOCK_H_
