#ifndef COHORT_TOOLS_COHORTCTL_ADMIN_REPORT_H_
#define COHORT_TOOLS_COHORTCTL_ADMIN_REPORT_H_

// What `cohortctl versions|releases|status|rollback` print: an aligned table
// for people, or with --json the admin API's answer in protobuf's JSON
// mapping (field names as in admin.proto; int64 values are JSON strings, as
// that mapping has them).

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
std::string FormatStatus(const cohort::v1::StatusResponse& response, bool json);
// `to_version` is what the operator asked for; the response names the new
// version and release.
std::string FormatRollback(int64_t to_version,
                           const cohort::v1::RollbackResponse& response,
                           bool json);

}  // namespace cohort::tools

#endif  // COHORT_TOOLS_COHORTCTL_ADMIN_REPORT_H_
