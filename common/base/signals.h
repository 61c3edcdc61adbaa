#ifndef COHORT_COMMON_BASE_SIGNALS_H_
#define COHORT_COMMON_BASE_SIGNALS_H_

#include <functional>

#include "absl/synchronization/notification.h"

namespace cohort::base {

// Turns SIGTERM and SIGINT into a notification, for a clean daemon stop.
// Blocks both signals in the calling thread, so call it at the top of main()
// before any thread starts (threads inherit the mask); a detached thread then
// waits for them with sigwait, runs `on_stop` (may be empty) and notifies
// `stop`. A second signal after the first is ignored. Call at most once.
void StopOnTerminationSignals(absl::Notification* stop,
                              std::function<void()> on_stop = nullptr);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_SIGNALS_H_
