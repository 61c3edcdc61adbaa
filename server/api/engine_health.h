#ifndef COHORT_SERVER_API_ENGINE_HEALTH_H_
#define COHORT_SERVER_API_ENGINE_HEALTH_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/service_monitor.h"
#include "common/base/service_notify.h"
#include "common/base/step_monitor.h"
#include "server/round/round_engine.h"

namespace cohort::server {

// The coordinator's health, as the service manager's watchdog sees it
// (through base::ServiceMonitor). Healthy means the round engine answers and
// its driver is not stuck in a commit:
//  - Check reads the engine through its accessors, which take the engine's
//    lock. A lock that is never released blocks Check, and that stops the
//    watchdog pings.
//  - A commit (optimizer step, holdout evaluation, the store's transaction)
//    runs on the driver thread without the lock. One that has run for more
//    than `max_commit`, counted from the first Check that saw the round
//    committing, makes Check DEADLINE_EXCEEDED. A commit held until the
//    store returns (RoundEngine::waiting_for_store) is not running: the
//    driver is free, so it does not count.
// Not seen: the driver stuck outside a commit without the lock (a device
// counter flush, a rollback, a release refresh: each a store call), and the
// FrontDoor's relay thread.
//
// Check and Describe are called from one monitor thread. Borrows the engine
// and the clock, which must outlive it.
class EngineHealth {
 public:
  // Evaluation of a 50M-parameter model on a large holdout plus a slow
  // store's transaction stay well inside this.
  static constexpr absl::Duration kDefaultMaxCommit = absl::Minutes(10);

  EngineHealth(const RoundEngine* engine, base::Clock* clock,
               absl::Duration max_commit = kDefaultMaxCommit)
      : engine_(engine), clock_(clock), max_commit_(max_commit),
        commit_(clock) {}

  // OK, or DEADLINE_EXCEEDED for a commit running too long. Blocks while the
  // engine's lock is held.
  absl::Status Check();
  // One line: "task T: round R selecting; version V; N rounds committed",
  // with "; paused", "; pinned" or "; waiting for the store" when so.
  std::string Describe() const;

 private:
  const RoundEngine* const engine_;
  base::Clock* const clock_;
  const absl::Duration max_commit_;
  base::StepMonitor commit_;
  int64_t committing_round_ = 0;  // 0: no commit seen
};

// Tells the service manager the coordinator serves: READY=1 with a status
// line naming the task, the port and the model version, then a
// ServiceMonitor over EngineHealth (null when no service manager listens).
// Call once the device port is bound and the engine has started; destroy the
// monitor when the engine stops, before base::NotifyStopping. Borrows all
// three arguments for the monitor's lifetime.
std::unique_ptr<base::ServiceMonitor> NotifyServing(
    base::ServiceNotifier& notifier, const RoundEngine& engine, int port,
    base::Clock* clock);

}  // namespace cohort::server

#endif  // COHORT_SERVER_API_ENGINE_HEALTH_H_
