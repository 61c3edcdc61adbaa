#include "server/api/health_monitor.h"

#include <utility>

#include "glog/logging.h"

namespace cohort::server {

HealthMonitor::HealthMonitor(Probe probe, Publish publish,
                             absl::Duration interval)
    : probe_(std::move(probe)),
      publish_(std::move(publish)),
      interval_(interval) {}

HealthMonitor::~HealthMonitor() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

bool HealthMonitor::CheckNow() {
  const absl::Status status = probe_();
  const bool serving = status.ok();
  absl::MutexLock lock(&mu_);
  if (published_ == serving) return serving;
  published_ = serving;
  if (serving) {
    LOG(INFO) << "health: SERVING";
  } else {
    LOG(WARNING) << "health: NOT_SERVING: " << status;
  }
  publish_(serving, status);
  return serving;
}

void HealthMonitor::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void HealthMonitor::Loop() {
  do {
    CheckNow();
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

}  // namespace cohort::server
