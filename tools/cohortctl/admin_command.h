#ifndef COHORT_TOOLS_COHORTCTL_ADMIN_COMMAND_H_
#define COHORT_TOOLS_COHORTCTL_ADMIN_COMMAND_H_

#include <string>

namespace cohort::tools {

// Whether `command` is one of the admin API's commands: versions, releases,
// status, tasks, devices, rollback, promote, pin, pause, resume.
bool IsAdminCommand(const std::string& command);

// The admin commands' lines of cohortctl's usage text, each ending in '\n'.
const char* AdminUsage();

// One call to the coordinator's admin API (proto/cohort/v1/admin.proto) over
// mTLS with the operator's certificate, with its own flags (--admin_address,
// --ca_cert, --cert, --key, --server_name, --task, --to_version, --reason,
// --limit, --after):
//   versions|releases|status|devices --task=T   (devices: --limit, --after)
//   tasks                                        (no --task)
//   rollback|promote|pin --task=T --to_version=V --reason=TEXT
//   pause|resume --task=T [--reason=TEXT]
// Prints a table, or JSON when `json` (--json); pause and resume print the
// task's status after the call. Returns the exit code: 0, 2 for bad usage (a
// missing or invalid flag, a PEM file that cannot be read), 1 when the call
// fails (the gRPC status is printed to stderr, e.g. "PERMISSION_DENIED:
// certificate subject 'device-0' may not call ...").
int RunAdminCommand(const std::string& command, bool json);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_ADMIN_COMMAND_H_
