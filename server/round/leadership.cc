#include "server/round/leadership.h"

namespace cohort::server {

void Leadership::StandBy(const std::string& reason) {
  {
    absl::MutexLock lock(&mu_);
    reason_ = reason;
  }
  leading_.store(false);
}

cohort::v1::RetryWindow Leadership::StandbyRetry() const {
  cohort::v1::RetryWindow r;
  r.set_min_delay_ms(absl::ToInt64Milliseconds(retry_min_));
  r.set_max_delay_ms(absl::ToInt64Milliseconds(retry_max_));
  r.set_cause("standby");
  absl::MutexLock lock(&mu_);
  r.set_reason(reason_);
  return r;
}

}  // namespace cohort::server
