#include "sim/output/progress_display.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace cohort::sim {
namespace {

// A FILE* backed by a temp file, readable at any time.
class CapturedFile {
 public:
  CapturedFile() : file_(std::tmpfile()) {}
  ~CapturedFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  FILE* get() { return file_; }
  std::string Contents() {
    std::fflush(file_);
    long size = std::ftell(file_);
    std::string data(static_cast<size_t>(size), '\0');
    std::rewind(file_);
    size_t n = std::fread(data.data(), 1, data.size(), file_);
    data.resize(n);
    std::fseek(file_, 0, SEEK_END);
    return data;
  }

 private:
  FILE* file_;
};

int CountRedraws(const std::string& s) {
  int n = 0;
  for (size_t pos = 0; (pos = s.find("\r\x1b[2K", pos)) != std::string::npos;
       ++pos) {
    ++n;
  }
  return n;
}

ProgressState Example() {
  ProgressState s;
  s.round = 12;
  s.total_rounds = 50;
  s.clients_done = 63;
  s.clients_in_round = 100;
  s.elapsed = absl::Seconds(41);
  s.last_accuracy = 0.8123;
  return s;
}

TEST(ProgressDisplayTest, DisabledWritesNothing) {
  CapturedFile out;
  ASSERT_NE(out.get(), nullptr);
  testing::FakeClock clock;
  ProgressDisplay display(out.get(), /*enabled=*/false, &clock);
  for (int r = 1; r <= 3; ++r) {
    ProgressState s = Example();
    s.round = r;
    display.Update(s);
    clock.Advance(absl::Seconds(1));
  }
  display.Finish();
  EXPECT_EQ(out.Contents(), "");
}

TEST(ProgressDisplayTest, EnabledRedrawsOneLineWithRoundAndAccuracy) {
  CapturedFile out;
  ASSERT_NE(out.get(), nullptr);
  testing::FakeClock clock;
  ProgressDisplay display(out.get(), /*enabled=*/true, &clock);
  display.Update(Example());
  std::string drawn = out.Contents();
  EXPECT_EQ(drawn,
            "\r\x1b[2K"
            "round 12/50 [####................] clients 63/100  elapsed 0:41  "
            "eta 2:15  acc 0.8123");
  display.Finish();
  EXPECT_EQ(out.Contents(), drawn + "\n");
  display.Finish();  // A second Finish adds nothing.
  EXPECT_EQ(out.Contents(), drawn + "\n");
}

TEST(ProgressDisplayTest, UpdatesAreRateLimitedUnlessRoundChanges) {
  CapturedFile out;
  testing::FakeClock clock;
  ProgressDisplay display(out.get(), /*enabled=*/true, &clock);
  ProgressState s = Example();
  s.clients_done = 1;
  display.Update(s);
  s.clients_done = 2;
  clock.Advance(absl::Milliseconds(99));
  display.Update(s);  // Too soon, same round: skipped.
  EXPECT_EQ(CountRedraws(out.Contents()), 1);
  clock.Advance(absl::Milliseconds(1));
  s.clients_done = 3;
  display.Update(s);  // 100 ms since the last draw.
  EXPECT_EQ(CountRedraws(out.Contents()), 2);
  s.round = 13;
  s.clients_done = 0;
  display.Update(s);  // New round: drawn at once.
  EXPECT_EQ(CountRedraws(out.Contents()), 3);
  s.clients_done = 7;
  display.Update(s);  // Skipped, but kept for Finish().
  EXPECT_EQ(CountRedraws(out.Contents()), 3);
  display.Finish();
  std::string all = out.Contents();
  EXPECT_EQ(CountRedraws(all), 4);
  std::string last_draw = all.substr(all.rfind('\r'));
  EXPECT_NE(last_draw.find("round 13/50"), std::string::npos) << last_draw;
  EXPECT_NE(last_draw.find("clients 7/100"), std::string::npos) << last_draw;
  EXPECT_EQ(all.back(), '\n');
}

TEST(ProgressDisplayTest, MissingAccuracyAndUnknownEta) {
  ProgressState s;
  s.round = 1;
  s.total_rounds = 5;
  s.clients_in_round = 10;
  s.elapsed = absl::Seconds(3);
  EXPECT_EQ(ProgressDisplay::FormatLine(s),
            "round 1/5 [....................] clients 0/10  elapsed 0:03  "
            "eta --:--  acc -");
  s.last_accuracy = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(ProgressDisplay::FormatLine(s).find("acc -"), std::string::npos);
}

TEST(ProgressDisplayTest, EstimateRemainingExamples) {
  EXPECT_EQ(ProgressDisplay::EstimateRemaining(absl::Seconds(10), 2, 10),
            absl::Seconds(40));
  EXPECT_EQ(ProgressDisplay::EstimateRemaining(absl::Seconds(10), 0, 10),
            absl::InfiniteDuration());
  EXPECT_EQ(ProgressDisplay::EstimateRemaining(absl::Seconds(10), 10, 10),
            absl::ZeroDuration());
  EXPECT_EQ(ProgressDisplay::EstimateRemaining(absl::Seconds(10), 12, 10),
            absl::ZeroDuration());
}

// Property: at the estimated finish, the average time per round is the same
// as so far, i.e. (elapsed + remaining) / total == elapsed / completed.
TEST(ProgressDisplayTest, EstimateRemainingKeepsAverageRate) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> totals(1, 10000);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 1000; ++i) {
    int64_t total = totals(rng);
    double completed = std::max(1e-3, unit(rng) * total);
    absl::Duration elapsed = absl::Seconds(unit(rng) * 1e5);
    absl::Duration remaining =
        ProgressDisplay::EstimateRemaining(elapsed, completed, total);
    double rate_so_far = absl::ToDoubleSeconds(elapsed) / completed;
    double rate_at_end =
        absl::ToDoubleSeconds(elapsed + remaining) / static_cast<double>(total);
    EXPECT_NEAR(rate_at_end, rate_so_far, 1e-6 * (1 + rate_so_far));
  }
}

TEST(ProgressDisplayTest, RoundsCompletedCountsPartialRound) {
  EXPECT_DOUBLE_EQ(ProgressDisplay::RoundsCompleted(Example()), 11.63);
  ProgressState s = Example();
  s.round = 1;
  s.clients_done = 0;
  EXPECT_DOUBLE_EQ(ProgressDisplay::RoundsCompleted(s), 0.0);
  s.round = 50;
  s.clients_done = 150;  // Over-reported: clamped to the total.
  EXPECT_DOUBLE_EQ(ProgressDisplay::RoundsCompleted(s), 50.0);
  s.clients_in_round = 0;
  EXPECT_DOUBLE_EQ(ProgressDisplay::RoundsCompleted(s), 49.0);
}

TEST(ProgressDisplayTest, FormatClock) {
  EXPECT_EQ(ProgressDisplay::FormatClock(absl::Seconds(41)), "0:41");
  EXPECT_EQ(ProgressDisplay::FormatClock(absl::Seconds(129.9)), "2:09");
  EXPECT_EQ(ProgressDisplay::FormatClock(absl::Seconds(3725)), "1:02:05");
  EXPECT_EQ(ProgressDisplay::FormatClock(absl::Seconds(-5)), "0:00");
  EXPECT_EQ(ProgressDisplay::FormatClock(absl::InfiniteDuration()), "--:--");
}

TEST(ProgressDisplayTest, RoundLineIsExact) {
  SimRoundRow row;
  row.round = 12;
  row.sim_seconds = 412.0;
  row.wall_seconds = 2.1;
  row.participants = 100;
  row.dropped = 3;
  row.train_loss = 0.41234;
  row.test_accuracy = 0.81234;
  EXPECT_EQ(ProgressDisplay::RoundLine(row, 50),
            "round 12/50  clients 100  dropped 3  sim 412.0s  wall 2.1s  "
            "loss 0.4123  acc 0.8123");
  row.round = 7;
  row.test_accuracy = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(ProgressDisplay::RoundLine(row, 100),
            "round   7/100  clients 100  dropped 3  sim 412.0s  wall 2.1s  "
            "loss 0.4123  acc -");
  // Under differential privacy the loss is withheld and epsilon shown.
  row.train_loss = std::numeric_limits<double>::quiet_NaN();
  row.outcome.epsilon = 2.34567;
  EXPECT_EQ(ProgressDisplay::RoundLine(row, 100),
            "round   7/100  clients 100  dropped 3  sim 412.0s  wall 2.1s  "
            "loss -  acc -  eps 2.346");
}

TEST(ProgressDisplayTest, IsTerminalFalseForFilesAndNull) {
  CapturedFile out;
  EXPECT_FALSE(ProgressDisplay::IsTerminal(out.get()));
  EXPECT_FALSE(ProgressDisplay::IsTerminal(nullptr));
}

}  // namespace
}  // namespace cohort::sim
