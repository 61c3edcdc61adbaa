#ifndef COHORT_COMMON_BASE_PARALLEL_FOR_H_
#define COHORT_COMMON_BASE_PARALLEL_FOR_H_

#include "absl/functional/function_ref.h"

namespace cohort::base {

// Calls fn(0) ... fn(tasks - 1), each once, spread over
// used = min(threads, tasks) threads (the caller's among them; threads <= 1
// runs them all on the caller), and returns when all have returned. Task t
// runs on thread t % used, so which tasks share a thread is fixed. fn must
// be safe to call concurrently for distinct tasks.
void ParallelFor(int tasks, int threads, absl::FunctionRef<void(int)> fn);

// The cores this process may use (std::thread::hardware_concurrency, at
// least 1): the default for work that should use every core.
int AvailableCores();

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_PARALLEL_FOR_H_
