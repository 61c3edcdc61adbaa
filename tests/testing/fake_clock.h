#ifndef COHORT_TESTS_TESTING_FAKE_CLOCK_H_
#define COHORT_TESTS_TESTING_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"

namespace cohort::testing {

// A clock that moves only when told. Sleep() advances it instantly.
class FakeClock final : public base::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Sleep(absl::Duration d) override { Advance(d); }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FAKE_CLOCK_H_
