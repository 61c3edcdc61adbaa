#include "common/base/service_monitor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace cohort::base {

std::unique_ptr<ServiceMonitor> ServiceMonitor::Start(
    ServiceNotifier* notifier, Probe probe, Describe describe,
    absl::Duration status_period) {
  if (!notifier->enabled()) return nullptr;
  const absl::Duration watchdog = notifier->WatchdogTimeout();
  // A floor, so a tiny WatchdogSec cannot turn the thread into a spin.
  const absl::Duration period = std::max(
      watchdog > absl::ZeroDuration() ? watchdog / 2 : status_period,
      absl::Milliseconds(1));
  return std::unique_ptr<ServiceMonitor>(new ServiceMonitor(
      notifier, std::move(probe), std::move(describe), period));
}

ServiceMonitor::ServiceMonitor(ServiceNotifier* notifier, Probe probe,
                               Describe describe, absl::Duration period)
    : notifier_(notifier),
      probe_(std::move(probe)),
      describe_(std::move(describe)),
      watchdog_(notifier->WatchdogTimeout() > absl::ZeroDuration()),
      period_(period),
      thread_([this] { Loop(); }) {}

ServiceMonitor::~ServiceMonitor() {
  stop_.Notify();
  thread_.join();
}

void ServiceMonitor::Loop() {
  do {
    Tick();
  } while (!stop_.WaitForNotificationWithTimeout(period_));
}

void ServiceMonitor::Tick() {
  const absl::Status health = probe_();
  std::string message;
  if (health.ok()) {
    if (!healthy_) LOG(INFO) << "healthy again; watchdog pings resume";
    const std::string status = describe_();
    message = watchdog_ ? WatchdogMessage(status) : StatusMessage(status);
  } else {
    // Logged once per episode; the status line repeats it every period.
    if (healthy_) {
      LOG(ERROR) << "unhealthy, no more watchdog pings: " << health;
    }
    message = StatusMessage(absl::StrCat("unhealthy: ", health.message()));
  }
  healthy_ = health.ok();
  if (absl::Status s = notifier_->Notify(message); !s.ok()) {
    LOG_EVERY_N(WARNING, 100) << "service manager: " << s;
  }
}

}  // namespace cohort::base
