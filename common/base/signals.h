#ifndef COHORT_COMMON_BASE_SIGNALS_H_
#define COHORT_COMMON_BASE_SIGNALS_H_

#include <functional>

#include "absl/synchronization/notification.h"

namespace cohort::base {

// Turns SIGTERM and SIGINT into a notification, for a clean daemon stop.
// Installs a process-wide handler that writes to a self-pipe; a detached
// thread reads it, runs `on_stop` (may be empty) and notifies `stop`. Signals
// after the first are ignored. Call once, at the top of main().
void StopOnTerminationSignals(absl::Notification* stop,
                              std::function<void()> on_stop = nullptr);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_SIGNALS_H_
