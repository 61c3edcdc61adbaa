// RoundEngine's release path: the holdout gate, field monitoring and its
// automatic rollback, check-in field reports and drift, and the server
// optimizer's state across a restart.

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/model/weights_util.h"
#include "gtest/gtest.h"
#include "tests/server/round/round_engine_fixture.h"
#include "tests/testing/field_summaries.h"

namespace cohort::server {
namespace {

using RoundEngineReleaseTest = RoundEngineTest;

TEST_F(RoundEngineReleaseTest, TheGateHoldsAVersionWhoseAccuracyFell) {
  options_.gate_max_accuracy_drop = 0.1;
  auto engine = MakeEngine();
  PlayRound(*engine, 1.0f, -1, 0);   // v2: accuracy 1.0 (a rise passes)
  PlayRound(*engine, -1.0f, -1, 0);  // v3: accuracy 0.0, held
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_EQ(summaries_[1].outcome, RoundSummary::Outcome::kHeld);
  EXPECT_EQ(summaries_[1].version, 3);
  EXPECT_EQ(engine->current_model()->version, 2);
  auto held = store_->GetVersion("t", 3);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE(held->held);
  EXPECT_EQ(held->parent, 2);
  PlayRound(*engine, 0.5f, -1, 0);  // v4 trains from v2 again: 1.5
  EXPECT_EQ(summaries_[2].outcome, RoundSummary::Outcome::kCommitted);
  auto current = store_->GetCurrent("t");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->version, 4);
  EXPECT_EQ((*current)->parent, 2);
  EXPECT_DOUBLE_EQ((*current)->metrics.at("test_accuracy"), 1.5);
  // A restart resumes from v4 and numbers the next version 5.
  engine.reset();
  auto again = MakeEngine();
  EXPECT_EQ(again->current_model()->version, 4);
  PlayRound(*again, 0.25f, -1, 0);
  EXPECT_EQ(again->current_model()->version, 5);
}

// A coordinator restarted mid-run resumes FedAdam's moments from the store
// and commits the same weights as one that never stopped.
TEST_F(RoundEngineReleaseTest, ARestartResumesTheServerOptimizerExactly) {
  options_.server_optimizer = {.kind = ServerOptimizerOptions::Kind::kFedAdam,
                               .learning_rate = 0.1};
  const std::vector<float> deltas = {1.0f, -0.5f, 0.75f};
  auto engine = MakeEngine();
  for (size_t r = 0; r + 1 < deltas.size(); ++r) {
    PlayRound(*engine, deltas[r], -1, 0);
  }
  engine.reset();
  engine = MakeEngine();  // a new process on the same store
  PlayRound(*engine, deltas.back(), -1, 0);
  const std::string resumed =
      engine->current_model()->weights.SerializeAsString();
  engine.reset();

  store_.reset();
  std::filesystem::remove_all(root_);
  auto fresh_store = DirectoryStore::Open(root_);
  ASSERT_TRUE(fresh_store.ok()) << fresh_store.status();
  store_ = std::move(*fresh_store);
  auto steady = MakeEngine();
  for (float d : deltas) PlayRound(*steady, d, -1, 0);
  EXPECT_EQ(steady->current_model()->version, 4);
  EXPECT_EQ(resumed, steady->current_model()->weights.SerializeAsString());
}

TEST_F(RoundEngineReleaseTest, FieldMonitoringRollsBackAVersionDevicesScoreWorse) {
  options_.field_min_reports = 5;
  options_.field_max_accuracy_drop = 0.05;
  auto engine = MakeEngine();
  PlayRound(*engine, 1.0f, 0.80, 1);  // devices score v1; v2 committed
  PlayRound(*engine, 1.0f, 0.78, 2);  // v2 scores 0.02 lower: within margin
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_EQ(summaries_[1].outcome, RoundSummary::Outcome::kCommitted);
  EXPECT_EQ(engine->current_model()->version, 3);
  PlayRound(*engine, 1.0f, 0.30, 3);  // v3 scores far lower: rolled back
  ASSERT_EQ(summaries_.size(), 3u);
  const RoundSummary& s = summaries_[2];
  EXPECT_EQ(s.outcome, RoundSummary::Outcome::kRolledBack);
  EXPECT_EQ(s.version, 4);
  EXPECT_EQ(s.field_reports, 10);
  EXPECT_DOUBLE_EQ(s.field_accuracy, 0.30);
  auto v2 = store_->GetVersion("t", 2);
  auto v4 = store_->GetVersion("t", 4);
  ASSERT_TRUE(v2.ok() && v4.ok());
  EXPECT_EQ(v4->weights, v2->weights);  // the round's own update is dropped
  EXPECT_EQ(v4->metrics.at("rolled_back_from"), 2.0);
  EXPECT_EQ(engine->current_model()->version, 4);
  // The rollback is judged a rise, not rolled back again.
  PlayRound(*engine, 1.0f, 0.79, 4);
  EXPECT_EQ(summaries_[3].outcome, RoundSummary::Outcome::kCommitted);
}

TEST_F(RoundEngineReleaseTest, MalformedFieldEvaluationsAreIgnoredNotCounted) {
  options_.field_min_reports = 1;
  auto engine = MakeEngine();
  PlayRound(*engine, 1.0f, 1.5, 1);  // accuracy out of range: ignored
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].field_reports, 0);
  EXPECT_TRUE(std::isnan(summaries_[0].field_accuracy));
  PlayRound(*engine, 1.0f, 0.5, 1);  // names version 1, but 2 is served
  EXPECT_EQ(summaries_[1].field_reports, 0);
}

// A device that is not selected sends its evaluation of the model it holds
// with its check-in; the coordinator counts it for the current or the
// previous version only, and measures drift between versions.
TEST_F(RoundEngineReleaseTest, CheckInFieldEvaluationsCountAndShowDrift) {
  options_.field_min_reports = 1;
  auto engine = MakeEngine();
  engine->RecordCheckInField("idle-1", testing::ImageEvaluation(1, 0.6, 1, 0.3));
  engine->RecordCheckInField("idle-2", testing::ImageEvaluation(7, 0.1, 1, 0.3));
  PlayRound(*engine, 1.0f, -2, 0);  // the round itself carries none
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].field_reports, 1);
  EXPECT_DOUBLE_EQ(summaries_[0].field_accuracy, 0.6);
  EXPECT_TRUE(std::isnan(summaries_[0].field_feature_drift));
  // Version 2's devices see other inputs and predictions.
  engine->RecordCheckInField("idle-1", testing::ImageEvaluation(2, 0.6, 4, 0.4));
  // A late report on version 1 still counts (the previous version).
  engine->RecordCheckInField("idle-3", testing::ImageEvaluation(1, 0.6, 1, 0.3));
  PlayRound(*engine, 1.0f, -2, 0);
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_EQ(summaries_[1].field_reports, 1);
  // Each feature moved 0.1 at a standard deviation of 0.1.
  EXPECT_NEAR(summaries_[1].field_feature_drift, 1.0, 1e-9);
  EXPECT_NEAR(summaries_[1].field_prediction_drift, 1.0, 1e-12);
}

}  // namespace
}  // namespace cohort::server
