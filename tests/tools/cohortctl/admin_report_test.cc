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

}  // namespace
}  // namespace cohort::tools
