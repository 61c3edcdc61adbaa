#ifndef COHORT_TOOLS_COHORTCTL_ADMIN_COMMAND_H_
#define COHORT_TOOLS_COHORTCTL_ADMIN_COMMAND_H_

#include <string>

namespace cohort::tools {

// Whether `command` is one of the admin API's commands: versions, releases,
// status, rollback.
bool IsAdminCommand(const std::string& command);

// `cohortctl versions|releases|status --task=T` and
// `cohortctl rollback --task=T --to_version=V --reason=TEXT`: one call to the
// coordinator's admin API (proto/cohort/v1/admin.proto) over mTLS with the
// operator's certificate, with its own flags (--admin_address, --ca_cert,
// --cert, --key, --server_name, --task, --to_version, --reason). Prints a
// table, or JSON when `json` (--json). Returns the exit code: 0, 2 for bad
// usage (a missing or invalid flag, a PEM file that cannot be read), 1 when
// the call fails (the gRPC status is printed to stderr, e.g.
// "PERMISSION_DENIED: certificate subject 'device-0' may not call ...").
int RunAdminCommand(const std::string& command, bool json);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_ADMIN_COMMAND_H_
