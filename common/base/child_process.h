#ifndef COHORT_COMMON_BASE_CHILD_PROCESS_H_
#define COHORT_COMMON_BASE_CHILD_PROCESS_H_

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cohort::base {

// Runs `work` in a forked child process and waits at most `limit` for it,
// so code that may crash or hang on hostile input (a third-party parser)
// cannot take the caller down with it. The child runs `work` and exits at
// once (_exit: no destructor, handler or thread of the caller runs there);
// it shares nothing back, so `work` is for trying, not for results.
//
// OK if the child exited; ABORTED "... crashed (signal N)" if a signal
// ended it; DEADLINE_EXCEEDED if it ran past `limit` (it is then killed
// with SIGKILL and reaped); INTERNAL if no child could be started.
absl::Status TryInChildProcess(absl::FunctionRef<void()> work,
                               absl::Duration limit);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_CHILD_PROCESS_H_
