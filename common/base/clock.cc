#include "common/base/clock.h"

namespace cohort::base {

RealClock* RealClock::Get() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace cohort::base
