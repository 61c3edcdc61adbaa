#include "tools/cohortctl/admin_report.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace cohort::tools {
namespace {

// One JSON object per answer, on one line, every field printed (zeros and
// false included) so scripts need no defaults.
std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options)
           .ok()) {
    return "{}\n";  // only for invalid UTF-8 in a string field
  }
  return out + "\n";
}

// Milliseconds since the epoch as UTC, e.g. "2026-01-31 12:00:05Z".
std::string Time(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

// Metrics sorted by name, e.g. "accuracy=0.8123 loss=0.5".
std::string Metrics(const google::protobuf::Map<std::string, double>& metrics) {
  const std::map<std::string, double> sorted(metrics.begin(), metrics.end());
  return absl::StrJoin(sorted, " ", [](std::string* out, const auto& m) {
    absl::StrAppend(out, m.first, "=", absl::StrFormat("%.4g", m.second));
  });
}

const char* YesNo(bool value) { return value ? "yes" : "no"; }

std::string Printable(std::string cell) {
  for (char& c : cell) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return cell;
}

}  // namespace

std::string AlignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line.append(2, ' ');
      line += Printable(row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string FormatVersions(const cohort::v1::ListVersionsResponse& response,
                           bool json) {
  if (json) return Json(response);
  std::vector<std::vector<std::string>> rows = {
      {"VERSION", "PARENT", "ROUND", "CREATED", "STATUS", "RELEASED",
       "CURRENT", "ARCHITECTURE", "METRICS"}};
  for (const cohort::v1::VersionInfo& v : response.versions()) {
    rows.push_back({absl::StrCat(v.version()), absl::StrCat(v.parent()),
                    absl::StrCat(v.round_id()), Time(v.created_at_unix_ms()),
                    v.status(), YesNo(v.released()), v.current() ? "*" : "",
                    v.architecture(), Metrics(v.metrics())});
  }
  return AlignColumns(rows);
}

std::string FormatReleases(const cohort::v1::ListReleasesResponse& response,
                           bool json) {
  if (json) return Json(response);
  std::vector<std::vector<std::string>> rows = {
      {"RELEASE", "VERSION", "KIND", "CREATED", "CURRENT", "ACTOR", "REASON"}};
  for (const cohort::v1::ReleaseInfo& r : response.releases()) {
    rows.push_back({absl::StrCat(r.release()), absl::StrCat(r.version()),
                    r.kind(), Time(r.created_at_unix_ms()),
                    r.current() ? "*" : "", r.actor(), r.reason()});
  }
  return AlignColumns(rows);
}

std::string FormatStatus(const cohort::v1::StatusResponse& response,
                         bool json) {
  if (json) return Json(response);
  return AlignColumns({
      {"task", response.task()},
      {"round", absl::StrCat(response.round_id(), " (", response.phase(), ")")},
      {"current version", absl::StrCat(response.current_version())},
      {"current release", absl::StrCat(response.current_release())},
      {"rounds committed", absl::StrCat(response.rounds_committed())},
      {"assigned devices", absl::StrCat(response.assigned_devices())},
      {"paused", YesNo(response.paused())},
      {"pinned", YesNo(response.pinned())},
  });
}

std::string FormatTasks(const cohort::v1::ListTasksResponse& response,
                        bool json) {
  if (json) return Json(response);
  std::vector<std::vector<std::string>> rows = {
      {"TASK", "ROUND", "PHASE", "VERSION", "RELEASE", "COMMITTED",
       "ASSIGNED", "PAUSED", "PINNED"}};
  for (const cohort::v1::StatusResponse& t : response.tasks()) {
    rows.push_back({t.task(), absl::StrCat(t.round_id()), t.phase(),
                    absl::StrCat(t.current_version()),
                    absl::StrCat(t.current_release()),
                    absl::StrCat(t.rounds_committed()),
                    absl::StrCat(t.assigned_devices()), YesNo(t.paused()),
                    YesNo(t.pinned())});
  }
  return AlignColumns(rows);
}

std::string FormatDevices(const cohort::v1::ListDevicesResponse& response,
                          bool json) {
  if (json) return Json(response);
  std::vector<std::vector<std::string>> rows = {
      {"DEVICE", "LAST SEEN", "CHECK-INS", "ACCEPTED", "REJECTED"}};
  for (const cohort::v1::DeviceInfo& d : response.devices()) {
    rows.push_back({d.device_id(), Time(d.last_seen_unix_ms()),
                    absl::StrCat(d.check_ins()),
                    absl::StrCat(d.reports_accepted()),
                    absl::StrCat(d.reports_rejected())});
  }
  std::string table = AlignColumns(rows);
  if (response.devices_size() == 0) return table;
  const cohort::v1::DeviceInfo& last =
      response.devices(response.devices_size() - 1);
  return absl::StrCat(table, "next page: --after=",
                      Printable(last.device_id()), "\n");
}

std::string FormatRelease(const std::string& action, int64_t to_version,
                          const cohort::v1::RollbackResponse& response,
                          bool json) {
  if (json) return Json(response);
  return AlignColumns({
      {action, absl::StrCat("version ", to_version)},
      {"new version", absl::StrCat(response.version())},
      {"new release", response.release() == 0
                          ? std::string("none (releases are not signed)")
                          : absl::StrCat(response.release())},
  });
}

}  // namespace cohort::tools
