// The last_round file: what it keeps, what it refuses, and the agent loop
// recording every round it joins (accepted, abandoned, or with the file
// unwritable).

#include "client/agent/last_round.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/agent/agent_status.h"
#include "client/agent/status_format.h"
#include "common/crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/agent/agent_fixture.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(LastRoundTest, FormatThenParseGivesTheRoundBack) {
  for (RoundResult result : {RoundResult::kAccepted, RoundResult::kNotUsed,
                             RoundResult::kAbandoned}) {
    for (int64_t round : {int64_t{0}, int64_t{1}, int64_t{1} << 40}) {
      LastRound last;
      last.round = round;
      last.result = result;
      last.at = absl::FromUnixSeconds(1717149600 + round % 1000);
      last.model_version = round + 1;
      last.model_sha256 = crypto::Sha256Hex(std::to_string(round));
      if (result == RoundResult::kAbandoned) {
        last.reason = "ABORTED: round " + std::to_string(round) + ": stopped";
      }
      auto parsed = ParseLastRound(FormatLastRound(last));
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      EXPECT_EQ(parsed->round, last.round);
      EXPECT_STREQ(RoundResultName(parsed->result), RoundResultName(result));
      EXPECT_EQ(parsed->reason, last.reason);
      EXPECT_EQ(parsed->at, last.at);
      EXPECT_EQ(parsed->model_version, last.model_version);
      EXPECT_EQ(parsed->model_sha256, last.model_sha256);
    }
  }
}

TEST(LastRoundTest, ReasonIsKeptOnOneLine) {
  LastRound last;
  last.reason = "first\nsecond\r\nthird";
  auto parsed = ParseLastRound(FormatLastRound(last));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->reason, "first second  third");
}

TEST(LastRoundTest, MalformedFilesAreDataLossAndUnknownNamesAreSkipped) {
  const std::string good =
      "round 1\nresult accepted\nat_unix 5\nmodel_version 2\n";
  EXPECT_TRUE(ParseLastRound(good).ok());
  EXPECT_TRUE(ParseLastRound("# newer\n" + good + "energy_mwh 12\n").ok());
  const std::vector<std::string> bad = {
      "",
      "result accepted\nat_unix 5\nmodel_version 2\n",
      good + "round 2\n",
      "round x\nresult accepted\nat_unix 5\nmodel_version 2\n",
      "round 1\nresult maybe\nat_unix 5\nmodel_version 2\n",
      "round 1\nresult accepted\nmodel_version 2\n"};
  for (const std::string& text : bad) {
    EXPECT_EQ(ParseLastRound(text).status().code(),
              absl::StatusCode::kDataLoss)
        << text;
  }
}

// ---------------------------------------------------------------------------
// The agent loop records each round it joins.

class LastRoundLoopTest : public AgentFixture {};

TEST_F(LastRoundLoopTest, AnAcceptedRoundIsRecordedAndNamesTheCachedModel) {
  options_.max_rounds = 1;
  state_->check_ins = {Assignment(7)};
  const absl::Time before = absl::Now();
  ASSERT_TRUE(Run().ok());
  const absl::Time after = absl::Now();
  ASSERT_EQ(state_->reports.size(), 1u);

  auto last = ReadLastRound(options_.state_dir);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->round, 7);
  EXPECT_STREQ(RoundResultName(last->result), "accepted");
  EXPECT_EQ(last->reason, "");
  EXPECT_EQ(last->model_version, 1);
  EXPECT_EQ(last->model_sha256, crypto::Sha256Hex(state_->model_bytes));
  EXPECT_GE(last->at, absl::FromUnixSeconds(absl::ToUnixSeconds(before)));
  EXPECT_LE(last->at, after);

  const AgentStatus status = ReadAgentStatus(options_, StatusEnvironment{});
  ASSERT_TRUE(status.model.ok()) << status.model.status();
  ASSERT_TRUE(status.model->version.has_value());
  EXPECT_EQ(*status.model->version, 1);
  EXPECT_EQ(status.model->architecture, "fake");
  EXPECT_THAT(FormatAgentStatus(status, false),
              HasSubstr("\n last_round: round 7 accepted at "));
}

TEST_F(LastRoundLoopTest, ARoundPastItsDeadlineIsRecordedAsAbandoned) {
  state_->check_ins = {Assignment(3, absl::Now() - absl::Seconds(1)),
                       absl::FailedPreconditionError("end of script")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  auto last = ReadLastRound(options_.state_dir);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->round, 3);
  EXPECT_STREQ(RoundResultName(last->result), "abandoned");
  EXPECT_THAT(last->reason, StartsWith("ABORTED: round 3: the report deadline"));
}

TEST_F(LastRoundLoopTest, ARecordThatCannotBeWrittenDoesNotStopTheAgent) {
  options_.max_rounds = 1;
  // A folder where the file would go: the rename onto it fails.
  std::filesystem::create_directories(LastRoundPath(options_.state_dir));
  state_->check_ins = {Assignment(7)};
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(state_->reports.size(), 1u);
  EXPECT_EQ(ReadLastRound(options_.state_dir).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cohort::client
