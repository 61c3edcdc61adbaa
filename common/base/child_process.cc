#include "common/base/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cohort::base {
namespace {

// How often a waiting parent looks at its child.
constexpr absl::Duration kPoll = absl::Milliseconds(5);

// The child's wait status once it ended; false if it still runs.
bool Reaped(pid_t child, int* status) {
  while (true) {
    const pid_t r = ::waitpid(child, status, WNOHANG);
    if (r == child) return true;
    if (r < 0 && errno == EINTR) continue;
    return false;
  }
}

}  // namespace

absl::Status TryInChildProcess(absl::FunctionRef<void()> work,
                               absl::Duration limit) {
  const pid_t child = ::fork();
  if (child < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (child == 0) {
    work();
    ::_exit(0);
  }
  const absl::Time deadline = absl::Now() + limit;
  int status = 0;
  while (!Reaped(child, &status)) {
    if (absl::Now() >= deadline) {
      ::kill(child, SIGKILL);
      while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "still running after ", absl::FormatDuration(limit),
          " (in a child process, killed)"));
    }
    absl::SleepFor(kPoll);
  }
  if (WIFSIGNALED(status)) {
    return absl::AbortedError(absl::StrCat(
        "crashed (signal ", WTERMSIG(status), ", in a child process)"));
  }
  return absl::OkStatus();
}

}  // namespace cohort::base
