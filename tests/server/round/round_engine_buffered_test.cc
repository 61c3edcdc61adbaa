// Buffered asynchronous rounds (FedBuff) in the round engine: assignments
// that outlive their buffer, staleness weights and bounds, expiry, drops
// and rollbacks.

#include <cmath>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "server/round/buffer_ledger.h"
#include "server/round/round_engine.h"
#include "tests/server/round/round_engine_fixture.h"

namespace cohort::server {
namespace {

class BufferedEngineTest : public RoundEngineTest {
 protected:
  void SetUp() override {
    RoundEngineTest::SetUp();
    options_.goal_count = 2;  // K
    options_.over_selection = 1.0;
    options_.min_reports = 2;
    options_.buffered = BufferedOptions{
        .concurrency = 4, .max_staleness = 2, .staleness_exponent = 0.5};
  }

  // The round id of `device`'s new assignment; -1 when it got none.
  int64_t Assign(RoundEngine& engine, const std::string& device) {
    auto out = engine.CheckIn(device);
    auto* a = std::get_if<cohort::v1::TaskAssignment>(&out);
    return a == nullptr ? -1 : a->round_id();
  }

  float Value(RoundEngine& engine) {
    return model::FloatView(engine.current_model()->weights.tensors(0))[0];
  }
};

TEST(StalenessWeightTest, FollowsThePolynomialOfFedBuff) {
  EXPECT_DOUBLE_EQ(StalenessWeight(0, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(StalenessWeight(3, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(StalenessWeight(1, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(StalenessWeight(7, 0.0), 1.0);
}

TEST_F(BufferedEngineTest, CommitsEveryKUpdatesWhileOthersKeepTraining) {
  auto engine = MakeEngine();
  EXPECT_EQ(engine->phase(), RoundPhase::kBuffering);
  const int64_t first = engine->round_id();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Assign(*engine, Dev(i)), first);
  // Every slot is taken.
  auto full = engine->CheckIn(Dev(9));
  ASSERT_TRUE(std::holds_alternative<cohort::v1::RetryWindow>(full));
  EXPECT_EQ(std::get<cohort::v1::RetryWindow>(full).cause(), "round_full");

  for (int i = 0; i < 2; ++i) {
    auto ack = engine->SubmitReport(Dev(i), ReportOf(first, 1.0f, 1));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_TRUE(ack->accepted());
  }
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 2);
  EXPECT_FLOAT_EQ(Value(*engine), 1.0f);
  EXPECT_EQ(engine->phase(), RoundPhase::kBuffering);
  EXPECT_EQ(engine->round_id(), first + 1);

  // Device 2 trained from version 1, one version ago: weight 2^-0.5.
  // Device 9 takes a freed slot and trains from version 2.
  EXPECT_EQ(Assign(*engine, Dev(9)), first + 1);
  ASSERT_TRUE(engine->SubmitReport(Dev(2), ReportOf(first, 1.0f, 1)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(9), ReportOf(first + 1, 1.0f, 1)).ok());
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 3);
  EXPECT_NEAR(Value(*engine), 1.0 + (std::sqrt(0.5) + 1.0) / 2, 1e-6);
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_EQ(summaries_[1].participants, 2);
  auto stored = store_->GetVersion("t", 3);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->parent, 2);
}

TEST_F(BufferedEngineTest, UpdateStalerThanTheBoundIsRefusedWithAClearStatus) {
  options_.buffered->max_staleness = 0;
  auto engine = MakeEngine();
  const int64_t first = engine->round_id();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Assign(*engine, Dev(i)), first);
  ASSERT_TRUE(engine->SubmitReport(Dev(0), ReportOf(first, 1.0f, 1)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(1), ReportOf(first, 1.0f, 1)).ok());
  EXPECT_TRUE(engine->RunOnce());
  auto stale = engine->SubmitReport(Dev(2), ReportOf(first, 5.0f, 1));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("1 versions behind"),
            std::string::npos)
      << stale.status();
  // The assignment is spent: a second try is not an assignment at all.
  EXPECT_EQ(engine->SubmitReport(Dev(2), ReportOf(first, 5.0f, 1))
                .status()
                .code(),
            absl::StatusCode::kAborted);
  // Counted as late in the buffer it reached, which commits without it.
  for (int i = 3; i < 5; ++i) {
    const int64_t r = Assign(*engine, Dev(i));
    ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(r, 1.0f, 1)).ok());
  }
  EXPECT_TRUE(engine->RunOnce());
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_EQ(summaries_[1].drops.timeout, 1);
  EXPECT_FLOAT_EQ(Value(*engine), 2.0f);
}

TEST_F(BufferedEngineTest, ExpiredAssignmentFreesItsSlotAndIsRefused) {
  options_.buffered->concurrency = 2;
  auto engine = MakeEngine();
  const int64_t first = engine->round_id();
  ASSERT_EQ(Assign(*engine, Dev(0)), first);
  ASSERT_EQ(Assign(*engine, Dev(1)), first);
  EXPECT_EQ(Assign(*engine, Dev(2)), -1);
  clock_.Advance(options_.report_timeout + absl::Seconds(1));
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(Assign(*engine, Dev(2)), first);
  auto late = engine->SubmitReport(Dev(0), ReportOf(first, 1.0f, 1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(late.status().message().find("no open assignment"),
            std::string::npos);
}

TEST_F(BufferedEngineTest, StreamOfAnEarlierBufferEndingFreesItsSlot) {
  options_.buffered->concurrency = 3;
  auto engine = MakeEngine();
  const int64_t first = engine->round_id();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Assign(*engine, Dev(i)), first);
  ASSERT_TRUE(engine->SubmitReport(Dev(1), ReportOf(first, 1.0f, 1)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(2), ReportOf(first, 1.0f, 1)).ok());
  EXPECT_TRUE(engine->RunOnce());
  // Device 0 still holds round `first`'s assignment, in buffer first + 1.
  for (int i = 3; i < 5; ++i) ASSERT_EQ(Assign(*engine, Dev(i)), first + 1);
  EXPECT_EQ(Assign(*engine, Dev(5)), -1);
  engine->Drop(Dev(0), first);
  EXPECT_EQ(Assign(*engine, Dev(5)), first + 1);
  // A stale stream of a device's older assignment closes nothing.
  engine->Drop(Dev(5), first);
  EXPECT_EQ(Assign(*engine, Dev(6)), -1);
}

TEST_F(BufferedEngineTest, UpdateFromARolledBackVersionIsNoLongerKnown) {
  options_.buffered->max_staleness = 10;
  auto engine = MakeEngine();
  const int64_t first = engine->round_id();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Assign(*engine, Dev(i)), first);
  ASSERT_TRUE(engine->SubmitReport(Dev(0), ReportOf(first, 1.0f, 1)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(1), ReportOf(first, 1.0f, 1)).ok());
  EXPECT_TRUE(engine->RunOnce());
  ASSERT_EQ(engine->current_model()->version, 2);
  absl::Notification stop;
  std::thread driver([&] { engine->Run(&stop, absl::Milliseconds(1)); });
  for (int i = 0; i < 5000 && !engine->running(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  auto rolled = engine->RollBack(1, "bad buffer", "operator:test");
  stop.Notify();
  driver.join();
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(rolled->version, 3);
  auto refused = engine->SubmitReport(Dev(2), ReportOf(first, 1.0f, 1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("no longer known"),
            std::string::npos)
      << refused.status();
  // A new buffer builds on the rolled-back version, and commits.
  for (int i = 3; i < 5; ++i) {
    const int64_t r = Assign(*engine, Dev(i));
    ASSERT_GT(r, first + 1);
    ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(r, 2.0f, 1)).ok());
  }
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 4);
  EXPECT_FLOAT_EQ(Value(*engine), 2.0f);
}

TEST_F(BufferedEngineTest, UpdateArrivingWhileTheBufferCommitsFreesItsSlot) {
  options_.buffered->concurrency = 3;
  auto engine = MakeEngine();
  const int64_t first = engine->round_id();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Assign(*engine, Dev(i)), first);
  ASSERT_TRUE(engine->SubmitReport(Dev(0), ReportOf(first, 1.0f, 1)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(1), ReportOf(first, 1.0f, 1)).ok());
  ASSERT_EQ(engine->phase(), RoundPhase::kCommitting);
  auto late = engine->SubmitReport(Dev(2), ReportOf(first, 1.0f, 1));
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_FALSE(late->accepted());
  EXPECT_TRUE(engine->RunOnce());
  // All three slots are free again: device 2's update was not used.
  for (int i = 3; i < 6; ++i) EXPECT_EQ(Assign(*engine, Dev(i)), first + 1);
  EXPECT_EQ(Assign(*engine, Dev(6)), -1);
}

// One assignment per device, and one update per device and buffer: a
// device that checks in again while assigned, or after its update joined
// the open buffer, is told to come back.
TEST_F(BufferedEngineTest, ADeviceHoldsOneAssignmentAndOneUpdatePerBuffer) {
  auto engine = MakeEngine();
  const int64_t first = engine->round_id();
  ASSERT_EQ(Assign(*engine, Dev(0)), first);
  auto again = engine->CheckIn(Dev(0));
  ASSERT_TRUE(std::holds_alternative<cohort::v1::RetryWindow>(again));
  EXPECT_EQ(std::get<cohort::v1::RetryWindow>(again).cause(),
            "already_assigned");
  ASSERT_TRUE(engine->SubmitReport(Dev(0), ReportOf(first, 1.0f, 1)).ok());
  EXPECT_EQ(Assign(*engine, Dev(0)), -1);
  ASSERT_EQ(Assign(*engine, Dev(1)), first);
  ASSERT_TRUE(engine->SubmitReport(Dev(1), ReportOf(first, 3.0f, 1)).ok());
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_FLOAT_EQ(Value(*engine), 2.0f);
  EXPECT_EQ(Assign(*engine, Dev(0)), first + 1);
}

}  // namespace
}  // namespace cohort::server
