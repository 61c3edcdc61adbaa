#ifndef COHORT_TESTS_TESTING_FAKE_SERVICE_NOTIFIER_H_
#define COHORT_TESTS_TESTING_FAKE_SERVICE_NOTIFIER_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/service_notify.h"

namespace cohort::testing {

// A service manager that records every message. Thread-safe: a
// ServiceMonitor's thread sends while the test waits and reads.
class FakeServiceNotifier final : public base::ServiceNotifier {
 public:
  explicit FakeServiceNotifier(absl::Duration watchdog = absl::ZeroDuration(),
                               bool enabled = true)
      : watchdog_(watchdog), enabled_(enabled) {}

  bool enabled() const override { return enabled_; }
  absl::Status Notify(const std::string& assignments) override {
    absl::MutexLock lock(&mu_);
    messages_.push_back(assignments);
    return absl::OkStatus();
  }
  absl::Duration WatchdogTimeout() const override { return watchdog_; }

  std::vector<std::string> messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  // Waits until at least `n` messages arrived (false after `timeout` of real
  // time: a generous bound that only a broken monitor reaches).
  bool WaitForMessages(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return messages_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
  }

 private:
  const absl::Duration watchdog_;
  const bool enabled_;
  mutable absl::Mutex mu_;
  std::vector<std::string> messages_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_TESTING_FAKE_SERVICE_NOTIFIER_H_
