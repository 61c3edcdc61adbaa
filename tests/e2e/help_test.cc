// Every binary's --help lists its own flags (Abseil matched none of ours and
// printed "No flags matched").

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace cohort::testing {
namespace {

class HelpTest : public ::testing::TestWithParam<const char*> {};

TEST_P(HelpTest, HelpListsTheBinarysOwnFlags) {
  const std::string name = GetParam();
  const std::string log = absl::StrCat(::testing::TempDir(), "/help_", name,
                                       "_", ::getpid(), ".log");
  Subprocess p({BinaryPath(name), "--help"}, log);
  ASSERT_TRUE(p.Wait(absl::Seconds(30)).has_value());
  const std::string out = p.Log();
  EXPECT_EQ(out.find("No flags matched"), std::string::npos) << out;
  EXPECT_NE(out.find("-config"), std::string::npos) << out;
  EXPECT_NE(out.find(name), std::string::npos) << out;  // the usage line
}

INSTANTIATE_TEST_SUITE_P(Binaries, HelpTest,
                         ::testing::Values("cohort-server", "cohort-agent",
                                           "cohort-sim"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace cohort::testing
