#ifndef COHORT_SIM_OUTPUT_PROCESS_RUNNER_H_
#define COHORT_SIM_OUTPUT_PROCESS_RUNNER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::sim {

// How a child process ended.
struct ProcessResult {
  int exit_code = -1;       // Exit status if it exited, else -1.
  int term_signal = 0;      // Signal that killed it, else 0.
  std::string stderr_tail;  // Last bytes it wrote to stderr.

  bool ok() const { return exit_code == 0; }
};

// Runs argv[0] (searched in PATH if it has no '/') with arguments argv[1..],
// no shell involved, in working directory `cwd` ("" keeps ours). stdin and
// stdout are /dev/null; stderr is captured and its last `stderr_tail_bytes`
// kept. Blocks until the child exits. Thread-safe (posix_spawn, no global
// state), but the caller must not reap children with waitpid(-1) meanwhile.
//
// INVALID_ARGUMENT if argv is empty.
// FAILED_PRECONDITION if `cwd` is given and is not a directory.
// UNAVAILABLE if argv[0] cannot be found or executed (ENOENT, EACCES, ...).
// INTERNAL if pipes, spawn or wait fail otherwise. A child that exits non-zero
//   is not an error here: inspect the ProcessResult.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::string& cwd,
                                         size_t stderr_tail_bytes = 2048);

}  // namespace cohort::sim

#endif  // COHORT_SIM_OUTPUT_PROCESS_RUNNER_H_
