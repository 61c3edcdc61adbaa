#ifndef COHORT_TOOLS_COHORTCTL_ADMIN_REPORT_H_
#define COHORT_TOOLS_COHORTCTL_ADMIN_REPORT_H_

// What the admin commands of cohortctl (versions, releases, status, tasks,
// devices, rollback, promote, pin, pause, resume) print: an aligned table
// for people, or with --json the admin API's answer in protobuf's JSON
// mapping (field names as in admin.proto; int64 values are JSON strings, as
// that mapping has them).

#include <cstdint>
#include <string>
#include <vector>

#include "cohort/v1/admin.pb.h"

namespace cohort::tools {

// Rows as aligned columns: each column as wide as its widest cell, two
// spaces between columns, no trailing spaces, one line per row. Control
// characters in cells (a reason with a newline) print as spaces, so a cell
// cannot break the table.
std::string AlignColumns(const std::vector<std::vector<std::string>>& rows);

std::string FormatVersions(const cohort::v1::ListVersionsResponse& response,
                           bool json);
std::string FormatReleases(const cohort::v1::ListReleasesResponse& response,
                           bool json);
// Also what pause and resume print: the task's status after the call.
std::string FormatStatus(const cohort::v1::StatusResponse& response, bool json);
// One line per task, with the columns of FormatStatus.
std::string FormatTasks(const cohort::v1::ListTasksResponse& response,
                        bool json);
// One line per device; the table ends with the --after that fetches the next
// page (which is empty when this one was the last).
std::string FormatDevices(const cohort::v1::ListDevicesResponse& response,
                          bool json);
// What rollback, promote and pin print. `action` says what was done
// ("rolled back to", "promoted", "pinned"); `to_version` is what the
// operator asked for; the response names the new version and release.
std::string FormatRelease(const std::string& action, int64_t to_version,
                          const cohort::v1::RollbackResponse& response,
                          bool json);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_ADMIN_REPORT_H_
