#ifndef COHORT_COMMON_BASE_EXIT_CODE_H_
#define COHORT_COMMON_BASE_EXIT_CODE_H_

#include "absl/status/status.h"

namespace cohort::base {

// The daemons' exit codes, one rule for cohort-server and cohort-agent so
// that the systemd units can tell a mistake to fix from a failure to retry
// (RestartPreventExitStatus=2 3: systemd shows the unit failed instead of
// restarting it in a loop that hides the message).
//
//   0  stopped cleanly.
//   1  a failure that may pass: the database or the network is down, an
//      internal error. Worth a restart.
//   2  a setup mistake: a bad config field, a missing or unreadable config,
//      certificate, key or state directory (INVALID_ARGUMENT, NOT_FOUND,
//      FAILED_PRECONDITION, PERMISSION_DENIED). The message names the path or
//      field.
//   3  a TLS identity mistake (UNAUTHENTICATED): the peer's certificate is
//      not trusted, or this side's certificate was refused.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitSetup = 2;
inline constexpr int kExitIdentity = 3;

int ExitCodeFor(const absl::Status& status);

}  // namespace cohort::base

#endif  // COHORT_COMMON_BASE_EXIT_CODE_H_
