#include "server/round/round_engine.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "server/store/directory_store.h"
#include "tests/server/round/round_engine_fixture.h"
#include "tests/testing/forwarding_store.h"

namespace cohort::server {
namespace {

TEST_F(RoundEngineTest, StartCreatesVersionOneAndOpensSelection) {
  auto engine = MakeEngine();
  EXPECT_EQ(engine->current_model()->version, 1);
  EXPECT_EQ(engine->phase(), RoundPhase::kSelecting);
  auto current = store_->GetCurrent("t");
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->version, 1);
}

TEST_F(RoundEngineTest, CheckInOverSelectsThirtyPercentThenSendsRetryWindow) {
  auto engine = MakeEngine();
  EXPECT_EQ(CheckInAll(*engine, 20), 13);
  EXPECT_EQ(engine->phase(), RoundPhase::kReporting);
  auto out = engine->CheckIn("late");
  ASSERT_TRUE(std::holds_alternative<cohort::v1::RetryWindow>(out));
  EXPECT_EQ(std::get<cohort::v1::RetryWindow>(out).min_delay_ms(), 1000);
}

TEST_F(RoundEngineTest, GoalReportsCommitExampleWeightedAverage) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  int64_t round = engine->round_id();
  // Devices 0..4 send +1 with 1 example, 5..9 send -0.5 with 3 examples:
  // mean = (5*1 - 5*1.5) / 20 = -0.125.
  for (int i = 0; i < 10; ++i) {
    auto ack = engine->SubmitReport(
        Dev(i), ReportOf(round, i < 5 ? 1.0f : -0.5f, i < 5 ? 1 : 3));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_TRUE(ack->accepted());
  }
  EXPECT_EQ(engine->phase(), RoundPhase::kCommitting);
  // A straggler's report is acknowledged but not used.
  auto late = engine->SubmitReport(Dev(11), ReportOf(round, 5.0f, 1));
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->accepted());

  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 2);
  auto w = model::FloatView(engine->current_model()->weights.tensors(0));
  EXPECT_FLOAT_EQ(w[0], -0.125f);
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].participants, 10);
  EXPECT_DOUBLE_EQ(summaries_[0].metrics.at("test_accuracy"), -0.125);
  EXPECT_EQ(engine->phase(), RoundPhase::kSelecting);
  EXPECT_EQ(engine->round_id(), round + 1);
  auto stored = store_->GetVersion("t", 2);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->parent, 1);
  EXPECT_EQ(stored->round_id, round);
}

TEST_F(RoundEngineTest, MalformedReportDropsOnlyThatDevice) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  int64_t round = engine->round_id();
  auto nan = ReportOf(round, std::numeric_limits<float>::quiet_NaN(), 1);
  EXPECT_EQ(engine->SubmitReport(Dev(0), nan).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto wrong_shape = ReportOf(round, 1.0f, 1);
  wrong_shape.mutable_delta()->mutable_tensors(0)->set_shape(0, 3);
  EXPECT_EQ(engine->SubmitReport(Dev(1), wrong_shape).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The dropped device cannot try again.
  EXPECT_EQ(engine->SubmitReport(Dev(0), ReportOf(round, 1.0f, 1)).status().code(),
            absl::StatusCode::kAborted);
  for (int i = 2; i < 12; ++i) {
    ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(round, 2.0f, 1)).ok());
  }
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 2);
  auto w = model::FloatView(engine->current_model()->weights.tensors(0));
  EXPECT_FLOAT_EQ(w[0], 2.0f);
  EXPECT_EQ(summaries_.at(0).dropped, 2);
  // Both refusals are counted by their cause; the accepted updates were
  // within the default bound of 10.
  EXPECT_EQ(summaries_.at(0).drops.malformed, 2);
  EXPECT_EQ(summaries_.at(0).drops.disconnect, 0);
  EXPECT_EQ(summaries_.at(0).clipped_fraction, 0.0);
  EXPECT_EQ(summaries_.at(0).clip_norm, 10.0);
}

TEST_F(RoundEngineTest, NanReportsAreMalformedDropsAndTheAbandonSaysSo) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  const int64_t round = engine->round_id();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // 6 refused reports leave 7 devices for a quorum of 8: the round stops.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(engine->SubmitReport(Dev(i), ReportOf(round, nan, 1)).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(engine->phase(), RoundPhase::kAbandoned);
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_TRUE(summaries_.empty());
  ASSERT_EQ(abandoned_.size(), 1u);
  const RoundSummary& s = abandoned_[0];
  EXPECT_EQ(s.round_id, round);
  EXPECT_EQ(s.drops.malformed, 6);
  EXPECT_EQ(s.dropped, 6);
  ASSERT_TRUE(s.abandoned.has_value());
  EXPECT_EQ(s.abandoned->cause, AbandonCause::kQuorumUnreachable);
  EXPECT_EQ(s.abandoned->threshold, 8);
  EXPECT_EQ(s.abandoned->cohort, 13);
  EXPECT_EQ(s.abandoned->drops.malformed, 6);
  EXPECT_NE(s.abandoned->ToString().find("6 reports refused as malformed"),
            std::string::npos)
      << s.abandoned->ToString();
}

TEST_F(RoundEngineTest, ReportsFromStrangersAndReplaysAreRefused) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  int64_t round = engine->round_id();
  EXPECT_EQ(engine->SubmitReport("stranger", ReportOf(round, 1, 1)).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(engine->SubmitReport(Dev(0), ReportOf(round + 7, 1, 1)).status().code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(engine->SubmitReport(Dev(0), ReportOf(round, 1, 1)).ok());
  EXPECT_EQ(engine->SubmitReport(Dev(0), ReportOf(round, 1, 1)).status().code(),
            absl::StatusCode::kAborted);
}

TEST_F(RoundEngineTest, DeadlineWithoutQuorumAbandonsRoundAndKeepsVersion) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  int64_t round = engine->round_id();
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(round, 1, 1)).ok());
  }
  clock_.Advance(absl::Seconds(61));
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 1);
  EXPECT_TRUE(summaries_.empty());
  // The observer hears why: 7 reports for a quorum of 8, 6 devices late.
  ASSERT_EQ(abandoned_.size(), 1u);
  ASSERT_TRUE(abandoned_[0].abandoned.has_value());
  const AbandonReason& why = *abandoned_[0].abandoned;
  EXPECT_EQ(why.cause, AbandonCause::kTooFewReports);
  EXPECT_EQ(why.phase, "reporting");
  EXPECT_EQ(why.survivors, 7);
  EXPECT_EQ(why.threshold, 8);
  EXPECT_EQ(why.drops.timeout, 6);
  EXPECT_EQ(abandoned_[0].drops.timeout, 6);
  EXPECT_EQ(abandoned_[0].dropped, 0);  // late devices are not lost ones
  EXPECT_EQ(engine->round_id(), round + 1);
  EXPECT_EQ(engine->phase(), RoundPhase::kSelecting);
  auto versions = store_->ListVersions("t");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 1u);
}

TEST_F(RoundEngineTest, DeadlineWithQuorumCommitsPartialRound) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  int64_t round = engine->round_id();
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(round, 1, 1)).ok());
  }
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 1);  // still waiting
  clock_.Advance(absl::Seconds(61));
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 2);
}

TEST_F(RoundEngineTest, DisconnectsBelowQuorumAbandonEarly) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  // A stale stream of an older round closing changes nothing.
  engine->Drop(Dev(0), engine->round_id() - 1);
  EXPECT_EQ(engine->assigned_count(), 13);
  for (int i = 0; i < 6; ++i) engine->Drop(Dev(i), engine->round_id());
  EXPECT_EQ(engine->phase(), RoundPhase::kAbandoned);
}

TEST_F(RoundEngineTest, SelectionTimeoutStartsReportingWithEnoughDevices) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 5), 5);
  clock_.Advance(absl::Seconds(11));
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->phase(), RoundPhase::kSelecting);  // below min_reports
  // Devices 0-4 already hold assignments; 5, 6 and 7 bring the round to
  // min_reports, which closes the timed-out selection, so 8 is turned away.
  EXPECT_EQ(CheckInAll(*engine, 9), 3);
  EXPECT_EQ(engine->assigned_count(), 8);
  EXPECT_EQ(engine->phase(), RoundPhase::kReporting);
}

TEST_F(RoundEngineTest, RestartResumesFromLastCommittedVersion) {
  int64_t round = 0;
  {
    auto engine = MakeEngine();
    ASSERT_EQ(CheckInAll(*engine, 13), 13);
    round = engine->round_id();
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(round, 1, 1)).ok());
    }
    ASSERT_TRUE(engine->RunOnce());
    // A second round is in flight when the "crash" happens.
    CheckInAll(*engine, 13);
  }
  auto engine = MakeEngine();
  EXPECT_EQ(engine->current_model()->version, 2);
  EXPECT_GT(engine->round_id(), round);
  auto w = model::FloatView(engine->current_model()->weights.tensors(0));
  EXPECT_FLOAT_EQ(w[0], 1.0f);
}

TEST_F(RoundEngineTest, MaxRoundsFinishesAndStopsAssigning) {
  options_.max_rounds = 1;
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  int64_t round = engine->round_id();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(round, 1, 1)).ok());
  }
  EXPECT_FALSE(engine->RunOnce());
  EXPECT_EQ(engine->phase(), RoundPhase::kFinished);
  EXPECT_TRUE(std::holds_alternative<cohort::v1::RetryWindow>(
      engine->CheckIn("x")));
}

TEST(RoundOptionsTest, ResolveAppliesDefaultsAndNamesBadFields) {
  auto o = ResolveRoundOptions("", cohort::v1::RoundConfig(),
                               cohort::v1::TrainingPlan());
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->goal_count, 10);
  EXPECT_EQ(o->selection_target(), 13);
  EXPECT_EQ(o->plan.batch_size(), 32);
  cohort::v1::RoundConfig bad;
  bad.set_goal_count(5);
  bad.set_min_reports(6);
  auto s = ResolveRoundOptions("", bad, cohort::v1::TrainingPlan()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("min_reports"), std::string::npos);
  cohort::v1::TrainingPlan plan;
  plan.set_learning_rate(-1);
  s = ResolveRoundOptions("", cohort::v1::RoundConfig(), plan).status();
  EXPECT_NE(s.message().find("learning_rate"), std::string::npos);
}

// Secure configurations no round could serve are refused at start-up,
// naming the field, instead of abandoning every round.
TEST(RoundOptionsTest, SecureCohortOfOneIsRefusedNamingGoalCount) {
  cohort::v1::RoundConfig c;
  c.mutable_secure_aggregation()->set_enabled(true);
  c.set_goal_count(1);
  auto s = ResolveRoundOptions("", c, cohort::v1::TrainingPlan()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("round.goal_count:", 0), 0u) << s;
  EXPECT_NE(s.message().find("at least 2"), std::string::npos) << s;
  // The same task without SecAgg+ is fine.
  c.mutable_secure_aggregation()->set_enabled(false);
  EXPECT_TRUE(ResolveRoundOptions("", c, cohort::v1::TrainingPlan()).ok());
}

TEST(RoundOptionsTest, SecureConfigsTheProtocolCannotServeNameTheirField) {
  cohort::v1::RoundConfig c;
  c.mutable_secure_aggregation()->set_enabled(true);
  c.set_goal_count(10);
  c.set_min_reports(1);  // a cohort of 1 could still commit
  auto s = ResolveRoundOptions("", c, cohort::v1::TrainingPlan()).status();
  EXPECT_EQ(s.message().rfind("round.min_reports:", 0), 0u) << s;
  c.set_min_reports(2);
  c.mutable_secure_aggregation()->set_expected_dropout(0.5);
  s = ResolveRoundOptions("", c, cohort::v1::TrainingPlan()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("round.secure_aggregation.expected_dropout:", 0),
            0u)
      << s;
  // Small cohorts the parameter finder cannot meet its targets for still
  // run (complete graph, the protocol's smallest threshold).
  c.mutable_secure_aggregation()->set_expected_dropout(0.3);
  EXPECT_TRUE(ResolveRoundOptions("", c, cohort::v1::TrainingPlan()).ok());
  c.set_goal_count(3);
  c.set_min_reports(0);
  EXPECT_TRUE(ResolveRoundOptions("", c, cohort::v1::TrainingPlan()).ok());
}

}  // namespace
}  // namespace cohort::server

namespace cohort::server {
namespace {

TEST_F(RoundEngineTest, GoalReachedDuringSelectionCommits) {
  options_.goal_count = 2;
  options_.min_reports = 2;
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 2), 2);  // target is 3
  EXPECT_EQ(engine->phase(), RoundPhase::kSelecting);
  int64_t round = engine->round_id();
  ASSERT_TRUE(engine->SubmitReport(Dev(0), ReportOf(round, 1, 1)).ok());
  ASSERT_TRUE(engine->SubmitReport(Dev(1), ReportOf(round, 1, 1)).ok());
  EXPECT_EQ(engine->phase(), RoundPhase::kCommitting);
  EXPECT_TRUE(engine->RunOnce());
  EXPECT_EQ(engine->current_model()->version, 2);
}

TEST_F(RoundEngineTest, OversizedExampleCountDropsTheDevice) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 13), 13);
  int64_t round = engine->round_id();
  auto greedy = ReportOf(round, 100.0f, options_.max_examples_per_report + 1);
  auto s = engine->SubmitReport(Dev(0), greedy).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("num_examples"), std::string::npos);
  for (int i = 1; i < 11; ++i) {
    ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(round, 1, 1)).ok());
  }
  EXPECT_TRUE(engine->RunOnce());
  auto w = model::FloatView(engine->current_model()->weights.tensors(0));
  EXPECT_FLOAT_EQ(w[0], 1.0f);
}

TEST_F(RoundEngineTest, CorruptStoredWeightsAreDataLossNotACrash) {
  { MakeEngine(); }
  // Overwrite history with a version 2 whose tensor claims a huge shape.
  auto bad = model_.Filled(1.0f);
  bad.mutable_tensors(0)->set_shape(0, int64_t{1} << 40);
  ModelVersionRecord record;
  record.task = "t";
  record.version = 2;
  record.parent = 1;
  record.round_id = 1;
  record.architecture = "fake";
  record.weights = bad.SerializeAsString();
  ASSERT_TRUE(store_->CommitVersion(record).ok());
  RoundEngine engine(options_, store_.get(), &model_, &clock_);
  absl::Status s = engine.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
}

// A store that commits but then reports an error, as an in-doubt PostgreSQL
// COMMIT or a failed directory fsync can.
class InDoubtStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::Status CommitVersion(const ModelVersionRecord& r) override {
    absl::Status s = ForwardingStore::CommitVersion(r);
    if (s.ok() && r.version > 1 && fail_next_) {
      fail_next_ = false;
      return absl::UnavailableError("connection lost during COMMIT");
    }
    return s;
  }
  bool fail_next_ = true;
};

TEST_F(RoundEngineTest, InDoubtCommitIsAdoptedAndLaterRoundsStillCommit) {
  InDoubtStore store(store_.get());
  RoundEngine engine(options_, &store, &model_, &clock_);
  ASSERT_TRUE(engine.Start().ok());
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(CheckInAll(engine, 13), 13);
    int64_t round = engine.round_id();
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(engine.SubmitReport(Dev(i), ReportOf(round, 1, 1)).ok());
    }
    EXPECT_TRUE(engine.RunOnce());
  }
  // Round 1's commit reported failure but landed; round 2 built on it.
  EXPECT_EQ(engine.current_model()->version, 3);
  auto w = model::FloatView(engine.current_model()->weights.tensors(0));
  EXPECT_FLOAT_EQ(w[0], 2.0f);
}

TEST_F(RoundEngineTest, DropDuringSelectionFreesTheSlot) {
  auto engine = MakeEngine();
  ASSERT_EQ(CheckInAll(*engine, 12), 12);
  engine->Drop(Dev(0), engine->round_id());
  EXPECT_EQ(engine->assigned_count(), 11);
  EXPECT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(
      engine->CheckIn("newcomer")));
  EXPECT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(
      engine->CheckIn(Dev(0))));
  EXPECT_EQ(engine->phase(), RoundPhase::kReporting);
}

TEST_F(RoundEngineTest, APausedTaskTurnsDevicesAwayAndAbandonsNothing) {
  auto engine = MakeEngine();
  const int64_t round = engine->round_id();
  engine->SetPaused(true, "maintenance", "operator:alice");
  EXPECT_TRUE(engine->paused());
  auto out = engine->CheckIn(Dev(0));
  ASSERT_TRUE(std::holds_alternative<cohort::v1::RetryWindow>(out));
  EXPECT_EQ(std::get<cohort::v1::RetryWindow>(out).reason(), "task paused");
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Minutes(2));
    EXPECT_TRUE(engine->RunOnce());
  }
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_EQ(engine->round_id(), round);
  engine->SetPaused(false, "done", "operator:alice");
  EXPECT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(
      engine->CheckIn(Dev(0))));
}

}  // namespace
}  // namespace cohort::server
