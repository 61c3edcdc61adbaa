#include "server/round/run_recorder.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base/files.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

std::string TestDir() {
  std::string dir = ::testing::TempDir() + "/recorder_" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::remove_all(dir);
  return dir;
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

RoundSummary Summary(int round) {
  RoundSummary s;
  s.round_id = round;
  s.version = round;
  return s;
}

TEST(RunRecorderTest, RestartAppendsAfterEarlierRounds) {
  const std::string dir = TestDir();
  for (int run = 0; run < 2; ++run) {
    auto recorder = RunRecorder::Create(dir, nullptr);
    ASSERT_TRUE(recorder.ok()) << recorder.status();
    (*recorder)->Record(Summary(2 * run + 1));
    (*recorder)->Record(Summary(2 * run + 2));
  }
  auto csv = base::ReadFile(dir + "/metrics.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(CountLines(*csv), 1 + 4) << *csv;  // one header, four rounds
  EXPECT_EQ(csv->find(RunRecorder::kHeader), 0u);
  EXPECT_EQ(csv->find(RunRecorder::kHeader, 1), std::string::npos) << *csv;
  EXPECT_NE(csv->find("\n4,4,"), std::string::npos) << *csv;
}

TEST(RunRecorderTest, FileWithOtherColumnsIsMovedAsideNotMixed) {
  const std::string dir = TestDir();
  ASSERT_TRUE(base::MakeDirs(dir).ok());
  std::ofstream(dir + "/metrics.csv") << "round,old_column\n1,2\n";
  auto recorder = RunRecorder::Create(dir, nullptr);
  ASSERT_TRUE(recorder.ok()) << recorder.status();
  auto csv = base::ReadFile(dir + "/metrics.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(*csv, std::string(RunRecorder::kHeader) + "\n");
  int moved = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("metrics.csv.", 0) == 0) ++moved;
  }
  EXPECT_EQ(moved, 1);
}

// A held round and a rolled-back one say so, with the field accuracy of
// the version they trained from.
TEST(RunRecorderTest, RowsSayWhatBecameOfTheVersion) {
  const std::string dir = TestDir();
  {
    auto recorder = RunRecorder::Create(dir, nullptr);
    ASSERT_TRUE(recorder.ok()) << recorder.status();
    RoundSummary held = Summary(4);
    held.outcome = RoundSummary::Outcome::kHeld;
    held.field_accuracy = 0.5;
    held.field_reports = 3;
    (*recorder)->Record(held);
    RoundSummary rolled = Summary(5);
    rolled.outcome = RoundSummary::Outcome::kRolledBack;
    rolled.field_accuracy = 0.125;
    rolled.field_reports = 7;
    rolled.field_feature_drift = 0.75;
    rolled.field_prediction_drift = 0.0625;
    (*recorder)->Record(rolled);
  }
  auto csv = base::ReadFile(dir + "/metrics.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_NE(csv->find(",0.500000,3,nan,nan,held\n"), std::string::npos) << *csv;
  EXPECT_NE(csv->find(",0.125000,7,0.750000,0.062500,rolled_back\n"),
            std::string::npos)
      << *csv;
}

// The shared columns: drops by cause, the clipped fraction, and how many
// rounds were abandoned since the previous row, whose reasons go to `out`.
TEST(RunRecorderTest, RowsCountDropsByCauseClippingAndAbandonedRounds) {
  const std::string dir = TestDir();
  const std::string log_path = dir + "_out.txt";
  FILE* out = std::fopen(log_path.c_str(), "w");
  ASSERT_NE(out, nullptr);
  {
    auto recorder = RunRecorder::Create(dir, out);
    ASSERT_TRUE(recorder.ok()) << recorder.status();
    RoundSummary abandoned = Summary(1);
    AbandonReason why;
    why.cause = AbandonCause::kSecAggAborted;
    why.phase = "ShareKeys";
    why.threshold = 6;
    why.survivors = 4;
    why.cohort = 10;
    abandoned.abandoned = why;
    (*recorder)->Record(abandoned);
    RoundSummary secure = Summary(2);
    secure.drops = {1, 2, 3, 4};
    secure.dropped = secure.drops.lost();
    secure.clip_norm = 2.5;
    secure.clipped_fraction = 0.25;
    (*recorder)->Record(secure);
    (*recorder)->Record(Summary(3));  // nothing aggregated, no abandons
  }
  std::fclose(out);
  auto csv = base::ReadFile(dir + "/metrics.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(CountLines(*csv), 1 + 2) << *csv;  // the abandoned round has no row
  EXPECT_NE(csv->find(",1,2,3,4,2.500000,0.250000,nan,1,nan,0,nan,nan,committed\n"), std::string::npos) << *csv;
  EXPECT_NE(csv->find(",0,0,0,0,nan,nan,nan,0,nan,0,nan,nan,committed\n"), std::string::npos) << *csv;
  EXPECT_NE(std::string(RunRecorder::kHeader).find(kRoundOutcomeHeader),
            std::string::npos);
  auto log = base::ReadFile(log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("abandoned: SecAgg+ aborted in phase ShareKeys: 4 of 10 "
                      "clients left, threshold t=6"),
            std::string::npos)
      << *log;
}

}  // namespace
}  // namespace cohort::server
