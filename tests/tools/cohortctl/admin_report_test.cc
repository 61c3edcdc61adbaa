// What the admin commands print: aligned tables and JSON that parses back
// to the answer.

#include "tools/cohortctl/admin_report.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace cohort::tools {
namespace {

cohort::v1::ListReleasesResponse TwoReleases() {
  cohort::v1::ListReleasesResponse r;
  cohort::v1::ReleaseInfo* first = r.add_releases();
  first->set_release(1);
  first->set_version(1);
  first->set_kind("promote");
  first->set_actor("gate");
  first->set_reason("version 1 committed");
  cohort::v1::ReleaseInfo* second = r.add_releases();
  second->set_release(12);
  second->set_version(7);
  second->set_kind("rollback");
  second->set_actor("operator:operator");
  second->set_reason("accuracy fell\nin the field");
  second->set_created_at_unix_ms(1767225600000);  // 2026-01-01
  second->set_current(true);
  return r;
}

TEST(AlignColumnsTest, ColumnsStartAtTheSameOffsetInEveryRow) {
  EXPECT_EQ(AlignColumns({{"A", "BB", "x"}, {"CCC", "D", "y"}}),
            "A    BB  x\nCCC  D   y\n");
}

TEST(AlignColumnsTest, ControlCharactersCannotBreakARow) {
  EXPECT_EQ(AlignColumns({{"a\nb", "c\td"}}), "a b  c d\n");
}

TEST(FormatReleasesTest, TableHasOneLinePerReleaseAndMarksTheCurrentOne) {
  const std::string table = FormatReleases(TwoReleases(), /*json=*/false);
  const std::vector<std::string> lines =
      absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << table;
  EXPECT_EQ(lines[0].rfind("RELEASE", 0), 0u) << table;
  EXPECT_NE(lines[2].find("rollback"), std::string::npos) << table;
  EXPECT_NE(lines[2].find("2026-01-01 00:00:00Z"), std::string::npos) << table;
  EXPECT_NE(lines[2].find(" * "), std::string::npos) << table;
  EXPECT_EQ(lines[1].find(" * "), std::string::npos) << table;
  // The KIND column starts at the same offset in every line.
  EXPECT_EQ(lines[0].find("KIND"), lines[2].find("rollback")) << table;
}

TEST(FormatReleasesTest, JsonParsesBackToTheAnswer) {
  const cohort::v1::ListReleasesResponse original = TwoReleases();
  cohort::v1::ListReleasesResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  FormatReleases(original, /*json=*/true), &parsed)
                  .ok());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(original, parsed));
}

TEST(FormatStatusTest, JsonPrintsZeroFields) {
  cohort::v1::StatusResponse status;
  status.set_task("t");
  const std::string json = FormatStatus(status, /*json=*/true);
  EXPECT_NE(json.find("\"assigned_devices\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"current_release\""), std::string::npos) << json;
}

TEST(FormatStatusTest, TableSaysWhetherPausedAndPinned) {
  cohort::v1::StatusResponse status;
  status.set_task("t");
  status.set_paused(true);
  const std::string table = FormatStatus(status, /*json=*/false);
  EXPECT_NE(table.find("paused            yes\n"), std::string::npos) << table;
  EXPECT_NE(table.find("pinned            no\n"), std::string::npos) << table;
}

TEST(FormatVersionsTest, TableShowsEachVersionsStatus) {
  cohort::v1::ListVersionsResponse r;
  cohort::v1::VersionInfo* committed = r.add_versions();
  committed->set_version(1);
  committed->set_status("committed");
  committed->set_released(true);
  committed->set_current(true);
  cohort::v1::VersionInfo* held = r.add_versions();
  held->set_version(2);
  held->set_parent(1);
  held->set_status("held");
  const std::string table = FormatVersions(r, /*json=*/false);
  const std::vector<std::string> lines =
      absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << table;
  const size_t column = lines[0].find("STATUS");
  ASSERT_NE(column, std::string::npos) << table;
  EXPECT_EQ(lines[1].find("committed"), column) << table;
  EXPECT_EQ(lines[2].find("held"), column) << table;
}

cohort::v1::ListDevicesResponse TwoDevices() {
  cohort::v1::ListDevicesResponse r;
  cohort::v1::DeviceInfo* a = r.add_devices();
  a->set_device_id("device-0");
  a->set_last_seen_unix_ms(1767225600000);  // 2026-01-01
  a->set_check_ins(12);
  a->set_reports_accepted(10);
  a->set_reports_rejected(1);
  cohort::v1::DeviceInfo* b = r.add_devices();
  b->set_device_id("device-1");
  b->set_check_ins(3);
  return r;
}

TEST(FormatDevicesTest, TableHasOneLinePerDeviceAndTheNextPage) {
  const std::string table = FormatDevices(TwoDevices(), /*json=*/false);
  const std::vector<std::string> lines =
      absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << table;
  EXPECT_EQ(lines[0].rfind("DEVICE", 0), 0u) << table;
  EXPECT_EQ(lines[1].rfind("device-0", 0), 0u) << table;
  EXPECT_NE(lines[1].find("2026-01-01 00:00:00Z"), std::string::npos) << table;
  EXPECT_EQ(lines[0].find("CHECK-INS"), lines[1].find("12")) << table;
  EXPECT_EQ(lines[2].rfind("device-1", 0), 0u) << table;
  EXPECT_EQ(lines[3], "next page: --after=device-1") << table;
}

TEST(FormatDevicesTest, EmptyPageHasNoNextPage) {
  const std::string table =
      FormatDevices(cohort::v1::ListDevicesResponse(), /*json=*/false);
  EXPECT_EQ(table, "DEVICE  LAST SEEN  CHECK-INS  ACCEPTED  REJECTED\n");
}

TEST(FormatDevicesTest, JsonParsesBackToTheAnswer) {
  const cohort::v1::ListDevicesResponse original = TwoDevices();
  cohort::v1::ListDevicesResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  FormatDevices(original, /*json=*/true), &parsed)
                  .ok());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(original, parsed));
}

TEST(FormatTasksTest, TableHasOneLinePerTask) {
  cohort::v1::ListTasksResponse r;
  cohort::v1::StatusResponse* t = r.add_tasks();
  t->set_task("mnist");
  t->set_round_id(41);
  t->set_phase("reporting");
  t->set_current_version(7);
  t->set_pinned(true);
  const std::string table = FormatTasks(r, /*json=*/false);
  const std::vector<std::string> lines =
      absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << table;
  EXPECT_EQ(lines[1].rfind("mnist", 0), 0u) << table;
  EXPECT_EQ(lines[0].find("PHASE"), lines[1].find("reporting")) << table;
  EXPECT_EQ(lines[0].find("PAUSED"), lines[1].rfind("no")) << table;
  EXPECT_EQ(lines[0].find("PINNED"), lines[1].rfind("yes")) << table;
}

TEST(FormatTasksTest, JsonParsesBackToTheAnswer) {
  cohort::v1::ListTasksResponse original;
  original.add_tasks()->set_task("mnist");
  original.mutable_tasks(0)->set_paused(true);
  cohort::v1::ListTasksResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  FormatTasks(original, /*json=*/true), &parsed)
                  .ok());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(original, parsed));
}

TEST(FormatReleaseTest, TableSaysWhatWasDone) {
  cohort::v1::RollbackResponse response;
  response.set_version(9);
  response.set_release(5);
  EXPECT_EQ(FormatRelease("promoted", 4, response, /*json=*/false),
            "promoted     version 4\n"
            "new version  9\n"
            "new release  5\n");
}

}  // namespace
}  // namespace cohort::tools
