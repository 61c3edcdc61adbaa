#include "client/agent/watched_trainer.h"

#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_service_notifier.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

// A trainer that runs `during` inside each call, so the test can look at
// the watch while a run is in progress (as the monitor thread would).
class ProbingTrainer final : public Trainer {
 public:
  absl::StatusOr<LocalUpdate> Train(const std::string&,
                                    const cohort::v1::Weights&,
                                    const cohort::v1::TrainingPlan&, uint64_t,
                                    absl::Time,
                                    const StopCheck& should_stop) override {
    if (should_stop) should_stop();
    during();
    return absl::DeadlineExceededError("fake: past the deadline");
  }
  absl::StatusOr<LocalEvaluation> Evaluate(
      const std::string&, const cohort::v1::Weights&) override {
    during();
    return LocalEvaluation{20, 0.4, 0.75, std::nullopt};
  }
  int64_t num_examples() const override { return 20; }

  std::function<void()> during = [] {};
};

TEST(WatchedTrainerTest, TrainingOverdueOnlyPastDeadlineAndGrace) {
  testing::FakeClock clock;
  ProbingTrainer inner;
  WatchedTrainer watched(&inner, &clock);
  const absl::Time deadline = clock.Now() + absl::Minutes(5);
  absl::Status at_deadline, past_grace;
  std::string described;
  inner.during = [&] {
    described = watched.Describe();
    clock.Advance(absl::Minutes(5) + WatchedTrainer::kTrainingGrace);
    at_deadline = watched.Check();
    clock.Advance(absl::Seconds(1));
    past_grace = watched.Check();
  };
  auto update = watched.Train("fake", {}, {}, 1, deadline, nullptr);

  // The wrapped trainer's result comes through unchanged.
  EXPECT_EQ(update.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(described, HasSubstr("training since"));
  EXPECT_TRUE(at_deadline.ok());
  EXPECT_EQ(past_grace.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(past_grace.message(), HasSubstr("training running since"));
  // Over, however it ended: healthy again.
  EXPECT_TRUE(watched.Check().ok());
  EXPECT_EQ(watched.Describe(), "idle; 1 steps done");
}

// The agent's eligibility watch reaches the trainer that checks it.
TEST(WatchedTrainerTest, TrainingPassesTheStopCheckThrough) {
  testing::FakeClock clock;
  ProbingTrainer inner;
  WatchedTrainer watched(&inner, &clock);
  int asked = 0;
  auto update = watched.Train("fake", {}, {}, 1, clock.Now() + absl::Minutes(5),
                              [&asked] {
                                ++asked;
                                return false;
                              });
  EXPECT_FALSE(update.ok());  // the probe's fixed answer, passed through
  EXPECT_EQ(asked, 1);
}

TEST(WatchedTrainerTest, EvaluationOverdueAfterMaxEvaluation) {
  testing::FakeClock clock;
  ProbingTrainer inner;
  WatchedTrainer watched(&inner, &clock);
  absl::Status in_time, overdue;
  inner.during = [&] {
    clock.Advance(WatchedTrainer::kMaxEvaluation);
    in_time = watched.Check();
    clock.Advance(absl::Seconds(1));
    overdue = watched.Check();
  };
  auto evaluation = watched.Evaluate("fake", {});
  ASSERT_TRUE(evaluation.ok());
  EXPECT_EQ(evaluation->num_examples, 20);
  EXPECT_TRUE(in_time.ok());
  EXPECT_THAT(overdue.message(), HasSubstr("evaluation running since"));
  EXPECT_TRUE(watched.Check().ok());
}

TEST(WatchedTrainerTest, NotifyAgentRunningSendsReadyThenWatchdogStatus) {
  testing::FakeClock clock;
  ProbingTrainer inner;
  WatchedTrainer watched(&inner, &clock);
  AgentOptions options;
  options.device_id = "device-7";
  options.server_address = "coordinator:50051";
  testing::FakeServiceNotifier notifier(absl::Milliseconds(2));
  auto monitor = NotifyAgentRunning(notifier, options, watched);
  ASSERT_NE(monitor, nullptr);
  ASSERT_TRUE(notifier.WaitForMessages(2));
  monitor.reset();
  const std::vector<std::string> sent = notifier.messages();
  EXPECT_EQ(sent[0],
            "READY=1\nSTATUS=device device-7: 20 examples; coordinator "
            "coordinator:50051");
  EXPECT_EQ(sent[1], "WATCHDOG=1\nSTATUS=device device-7: idle; 0 steps done");
}

}  // namespace
}  // namespace cohort::client
