#ifndef COHORT_SIM_VIRTUAL_CLOCK_H_
#define COHORT_SIM_VIRTUAL_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"

namespace cohort::sim {

// The simulator's clock: time moves only when the simulator advances it, so
// deadlines, stragglers and dropouts play out without sleeping. Starts at a
// fixed epoch so runs are reproducible. Thread-safe.
class VirtualClock final : public base::Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  // Sleeping on the virtual clock just moves it.
  void Sleep(absl::Duration d) override { AdvanceTo(Now() + d); }
  // Moves the clock forward to `t`; never backwards.
  void AdvanceTo(absl::Time t) {
    absl::MutexLock lock(&mu_);
    if (t > now_) now_ = t;
  }
  // Seconds since the simulation started.
  double Seconds() const {
    return absl::ToDoubleSeconds(Now() - kEpoch());
  }
  static absl::Time kEpoch() { return absl::FromUnixSeconds(1700000000); }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = kEpoch();
};

}  // namespace cohort::sim

#endif  // COHORT_SIM_VIRTUAL_CLOCK_H_
