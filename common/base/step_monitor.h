#ifndef COHORT_COMMON_BASE_STEP_MONITOR_H_
#define COHORT_COMMON_BASE_STEP_MONITOR_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/clock.h"

namespace cohort::base {

// What a daemon's loop is busy with, for a health probe: at most one step at
// a time (a training run, a commit), with the time it should be over by. The
// loop is healthy while idle, however long it waits, and while its step is
// not overdue; a step that overstays its due time is what a hang looks like
// from outside.
//
// The loop's thread calls Begin and End; a monitor thread calls Check and
// Describe. Thread-safe. Borrows the clock, which must outlive it.
class StepMonitor {
 public:
  explicit StepMonitor(Clock* clock) : clock_(clock) {}

  // Starts step `what` (e.g. "training"), due by `due` (InfiniteFuture: never
  // overdue). Replaces a step that did not End.
  void Begin(absl::string_view what, absl::Time due);
  // The step is over, whatever its outcome. No-op when idle.
  void End();

  // OK while idle or until the step's due time; DEADLINE_EXCEEDED naming the
  // step, when it began and when it was due, once it is overdue.
  absl::Status Check() const;
  // One line: "training since <time>, due by <time>", or
  // "idle; <n> steps done".
  std::string Describe() const;
  // Steps that ended (End called while busy).
  int64_t steps_ended() const;

 private:
  Clock* const clock_;
  mutable absl::Mutex mu_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  std::string what_ ABSL_GUARDED_BY(mu_);
  absl::Time began_ ABSL_GUARDED_BY(mu_);
  absl::Time due_ ABSL_GUARDED_BY(mu_);
  int64_t ended_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_STEP_MONITOR_H_
