#ifndef COHORT_COMMON_BASE_SERVICE_MONITOR_H_
#define COHORT_COMMON_BASE_SERVICE_MONITOR_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/base/service_notify.h"

namespace cohort::base {

// Keeps the service manager informed while a daemon runs, from a thread of
// its own. Every period it runs `probe`:
//  - healthy (OK): sends WATCHDOG=1, when the manager's watchdog is on, with
//    STATUS=<describe()>;
//  - unhealthy: sends only STATUS=unhealthy: <reason> and no ping, so the
//    manager's watchdog fires one WatchdogSec after the last ping (SIGABRT,
//    then the unit's Restart=). Health that comes back resumes the pings.
// The period is half the watchdog timeout, as sd_watchdog_enabled(3)
// advises, or `status_period` without a watchdog (status lines only). The
// first probe runs at once.
//
// `probe` and `describe` run on the monitor's thread and must be
// thread-safe. A probe that blocks (on a lock that is never released) stops
// the pings; that is how a deadlock reaches the watchdog. The destructor
// stops and joins the thread, after the probe in progress returns. Owns the
// thread; borrows the notifier, which must outlive it. Not copyable.
class ServiceMonitor {
 public:
  using Probe = std::function<absl::Status()>;
  using Describe = std::function<std::string()>;
  static constexpr absl::Duration kStatusPeriod = absl::Seconds(10);

  // Null when `notifier` is disabled (no service manager): there is nothing
  // to send, so no thread starts.
  static std::unique_ptr<ServiceMonitor> Start(
      ServiceNotifier* notifier, Probe probe, Describe describe,
      absl::Duration status_period = kStatusPeriod);
  ~ServiceMonitor();
  ServiceMonitor(const ServiceMonitor&) = delete;
  ServiceMonitor& operator=(const ServiceMonitor&) = delete;

  // Time between two probes.
  absl::Duration period() const { return period_; }

 private:
  ServiceMonitor(ServiceNotifier* notifier, Probe probe, Describe describe,
                 absl::Duration period);
  void Loop();
  // One probe and the message it calls for.
  void Tick();

  ServiceNotifier* const notifier_;
  const Probe probe_;
  const Describe describe_;
  const bool watchdog_;
  const absl::Duration period_;
  bool healthy_ = true;  // the monitor thread's alone
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_SERVICE_MONITOR_H_
