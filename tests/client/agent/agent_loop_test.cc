// The agent's loop against a scripted coordinator and a fake trainer: what
// it retries, what stops it, deadlines, the model cache and a secure round.

#include <filesystem>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/agent/agent.h"
#include "client/agent/agent_options.h"
#include "common/base/files.h"
#include "common/crypto/sha256.h"
#include "common/model/signing.h"
#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/client/agent/agent_fixture.h"
#include "tests/testing/fake_trainer.h"
#include "tests/testing/fake_transport.h"
#include "tests/testing/test_keys.h"

namespace cohort::client {
namespace {

using testing::FakeTrainer;
using testing::FakeTransport;

using AgentLoopTest = AgentFixture;

TEST_F(AgentLoopTest, PlainRoundReportsTheDeltaAndSendsItsCapabilities) {
  options_.max_rounds = 1;
  options_.num_threads = 2;
  state_->check_ins = {Assignment(1)};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->reports.size(), 1u);
  EXPECT_EQ(state_->reports[0].round_id(), 1);
  EXPECT_EQ(model::FloatView(state_->reports[0].delta().tensors(0))[0], 0.25f);
  const auto& caps = state_->seen_check_ins[0].capabilities();
  EXPECT_EQ(caps.cpu_cores(), 2);  // what it trains with, not the machine's
  EXPECT_GT(caps.memory_bytes(), 0);
}

// Field monitoring: asked to, the agent scores the model it was given on its
// own data before training and sends the score with its update; not asked,
// it sends none.
TEST_F(AgentLoopTest, AskedToEvaluateItReportsTheModelsScoreBeforeTraining) {
  options_.max_rounds = 2;
  auto asked = Assignment(1);
  asked.mutable_task_assignment()->set_evaluate_before_training(true);
  state_->check_ins = {asked, Assignment(2)};
  trainer_.evaluation = client::LocalEvaluation{40, 0.625, 0.875, std::nullopt};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->reports.size(), 2u);
  ASSERT_TRUE(state_->reports[0].has_field_evaluation());
  const cohort::v1::FieldEvaluation& f = state_->reports[0].field_evaluation();
  EXPECT_EQ(f.version(), 1);
  EXPECT_EQ(f.release(), 0);  // unsigned
  EXPECT_EQ(f.num_examples(), 40);
  EXPECT_DOUBLE_EQ(f.loss(), 0.625);
  EXPECT_DOUBLE_EQ(f.accuracy(), 0.875);
  EXPECT_FALSE(state_->reports[1].has_field_evaluation());
  EXPECT_EQ(trainer_.evaluations.size(), 1u);
}

// Not selected, the agent still scores the model it holds, at most once per
// field_report_interval, and sends that with its check-in; a model from a
// secure round is never scored in the clear.
TEST_F(AgentLoopTest, CheckInsCarryTheHeldModelsScoreWhenDue) {
  options_.max_rounds = 3;
  options_.field_report_interval = absl::ZeroDuration();
  auto asked = Assignment(1);
  asked.mutable_task_assignment()->set_evaluate_before_training(true);
  state_->check_ins = {asked, Assignment(2), Assignment(3)};
  trainer_.evaluation = client::LocalEvaluation{40, 0.625, 0.875, std::nullopt};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->seen_check_ins.size(), 3u);
  EXPECT_FALSE(state_->seen_check_ins[0].has_field_evaluation());
  ASSERT_TRUE(state_->seen_check_ins[1].has_field_evaluation());
  EXPECT_EQ(state_->seen_check_ins[1].field_evaluation().version(), 1);
  EXPECT_DOUBLE_EQ(state_->seen_check_ins[1].field_evaluation().accuracy(),
                   0.875);
  // Round 2 did not ask: its model is not scored.
  EXPECT_FALSE(state_->seen_check_ins[2].has_field_evaluation());
  EXPECT_EQ(trainer_.evaluations.size(), 2u);
}

TEST_F(AgentLoopTest, ASecureRoundsModelIsNotScoredInTheClear) {
  options_.max_rounds = 2;
  options_.field_report_interval = absl::ZeroDuration();
  auto secure = Assignment(1);
  secure.mutable_task_assignment()->set_evaluate_before_training(true);
  secure.mutable_task_assignment()->set_secure_aggregation(true);
  state_->check_ins = {secure, Assignment(2)};
  cohort::v1::ServerMessage ack;
  ack.mutable_ack()->set_accepted(true);
  state_->secure_replies = {ack};
  ASSERT_TRUE(Run().ok());
  ASSERT_FALSE(state_->sent.empty());
  ASSERT_TRUE(state_->sent[0].secagg().has_ready());
  EXPECT_FALSE(state_->sent[0].secagg().ready().has_field_evaluation());
  ASSERT_EQ(state_->seen_check_ins.size(), 2u);
  EXPECT_FALSE(state_->seen_check_ins[1].has_field_evaluation());
}

// A failed evaluation costs the score, not the round.
TEST_F(AgentLoopTest, AFailedEvaluationStillReportsTheUpdate) {
  options_.max_rounds = 1;
  auto asked = Assignment(1);
  asked.mutable_task_assignment()->set_evaluate_before_training(true);
  state_->check_ins = {asked};
  trainer_.evaluation = absl::InternalError("evaluation failed");
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(state_->reports.size(), 1u);
  EXPECT_FALSE(state_->reports[0].has_field_evaluation());
  EXPECT_EQ(trainer_.evaluations.size(), 1u);
}

TEST_F(AgentLoopTest, UnavailableIsRetriedAfterDiagnosingIt) {
  options_.max_rounds = 1;
  state_->check_ins = {absl::UnavailableError("down"),
                       absl::UnavailableError("down"), Assignment(1)};
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(state_->seen_check_ins.size(), 3u);
  EXPECT_EQ(state_->diagnoses, 2);
  EXPECT_EQ(state_->reports.size(), 1u);
}

TEST_F(AgentLoopTest, RefusedCheckInStopsWithoutRetrying) {
  state_->check_ins = {absl::FailedPreconditionError("wrong population")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(state_->seen_check_ins.size(), 1u);
}

TEST_F(AgentLoopTest, LocalTlsMistakeFoundByDiagnoseStops) {
  state_->check_ins = {absl::UnavailableError("Socket closed")};
  state_->diagnosis = absl::UnauthenticatedError("does not name the server");
  EXPECT_EQ(Run().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(state_->seen_check_ins.size(), 1u);
}

TEST_F(AgentLoopTest, StopRequestEndsBackoffPromptly) {
  options_.backoff_initial = absl::Seconds(60);
  options_.backoff_max = absl::Seconds(60);
  state_->check_ins = {absl::UnavailableError("down")};
  std::thread stopper([this] {
    absl::SleepFor(absl::Milliseconds(100));
    stop_.Notify();
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(Run().ok());
  stopper.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));  // not the 30-60 s backoff
  EXPECT_EQ(state_->seen_check_ins.size(), 1u);
}

TEST_F(AgentLoopTest, PassedReportDeadlineIsNeitherTrainedNorReported) {
  state_->check_ins = {Assignment(1, absl::Now() - absl::Seconds(1)),
                       absl::FailedPreconditionError("end of script")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(trainer_.calls.empty());
  EXPECT_TRUE(state_->reports.empty());
  EXPECT_EQ(state_->seen_check_ins.size(), 2u);  // checked in again
}

TEST_F(AgentLoopTest, TrainerGetsTheAssignmentsDeadline) {
  options_.max_rounds = 1;
  const absl::Time deadline = absl::FromUnixMillis(
      absl::ToUnixMillis(absl::Now() + absl::Minutes(5)));
  state_->check_ins = {Assignment(1, deadline)};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(trainer_.calls.size(), 1u);
  EXPECT_EQ(trainer_.calls[0].deadline, deadline);
}

TEST_F(AgentLoopTest, SameModelTwiceIsFetchedOnce) {
  options_.max_rounds = 2;
  state_->check_ins = {Assignment(1), Assignment(2)};
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(state_->fetches, 1);
  EXPECT_EQ(state_->reports.size(), 2u);
  EXPECT_EQ(state_->seen_check_ins[1].cached_model_version(), 1);
}

TEST_F(AgentLoopTest, SecureRoundSendsReadyAndCountsTheAck) {
  options_.max_rounds = 1;
  auto assignment = Assignment(1);
  assignment.mutable_task_assignment()->set_secure_aggregation(true);
  state_->check_ins = {assignment};
  cohort::v1::ServerMessage ack;
  ack.mutable_ack()->set_accepted(true);
  state_->secure_replies = {ack};
  ASSERT_TRUE(Run().ok());
  ASSERT_FALSE(state_->sent.empty());
  EXPECT_TRUE(state_->sent[0].has_secagg());
  EXPECT_TRUE(state_->reports.empty());  // nothing in the clear
}

TEST_F(AgentLoopTest, PinnedRootTrainsOnASignedReleaseAndRecordsIt) {
  PinRoot();
  options_.max_rounds = 1;
  auto assignment = Assignment(1);
  Sign(assignment, 4);
  state_->check_ins = {assignment};
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(state_->reports.size(), 1u);
  auto held = base::ReadFile(ModelCache::ReleasePath(options_.state_dir));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(*held, "4\n");
}

TEST_F(AgentLoopTest, PinnedRootRefusesUnsignedAndReplayedReleasesAndGoesOn) {
  PinRoot();
  auto newer = Assignment(1);
  Sign(newer, 4);
  auto replayed = Assignment(2);
  Sign(replayed, 3);
  state_->check_ins = {Assignment(3), newer, replayed,
                       absl::FailedPreconditionError("end of script")};
  options_.max_rounds = 2;
  EXPECT_EQ(Run().code(), absl::StatusCode::kFailedPrecondition);
  // Only release 4 was trained on: the unsigned model was never fetched,
  // and the replayed release 3 was refused after it.
  EXPECT_EQ(trainer_.calls.size(), 1u);
  EXPECT_EQ(state_->reports.size(), 1u);
  EXPECT_EQ(state_->fetches, 1);
  EXPECT_EQ(state_->seen_check_ins.size(), 4u);  // it kept checking in
}

}  // namespace
}  // namespace cohort::client
