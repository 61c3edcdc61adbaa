#ifndef COHORT_SERVER_API_HEALTH_MONITOR_H_
#define COHORT_SERVER_API_HEALTH_MONITOR_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace cohort::server {

// Keeps the coordinator's gRPC health status (grpc.health.v1, on the device
// and admin ports) in line with what it depends on: SERVING while `probe`
// succeeds, NOT_SERVING while it fails (the store is unreachable, for
// example). Probes every `interval` on a thread of its own and publishes
// only changes, each logged once with the reason. Probe and publish are
// injected; the server wires a cheap store read and
// HealthCheckServiceInterface::SetServingStatus.
class HealthMonitor {
 public:
  using Probe = std::function<absl::Status()>;
  // serving, and the probe's error when not serving.
  using Publish = std::function<void(bool serving, const absl::Status& why)>;

  HealthMonitor(Probe probe, Publish publish, absl::Duration interval);
  // Stops and joins the thread.
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Probes once now, publishes a change, and returns whether it serves.
  bool CheckNow();
  // Starts probing every interval (the first probe at once). Call once.
  void Start();

 private:
  void Loop();

  const Probe probe_;
  const Publish publish_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  std::optional<bool> published_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_HEALTH_MONITOR_H_
