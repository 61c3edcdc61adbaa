// RoundEngine and RoundCommitter under central differential privacy:
// calibrated noise on every round's mean, epsilon on every version and
// summary, the budget that stops the task, and a count of noised rounds that
// survives restarts and rollbacks.

#include <cmath>
#include <vector>

#include "common/model/weights_util.h"
#include "common/privacy/noise_source.h"
#include "gtest/gtest.h"
#include "server/aggregation/central_dp.h"
#include "server/round/round_committer.h"
#include "tests/server/round/round_engine_fixture.h"

namespace cohort::server {
namespace {

class RoundEnginePrivacyTest : public RoundEngineTest {
 protected:
  void SetUp() override {
    RoundEngineTest::SetUp();
    options_.clipping.clip_norm = 2.0;
    PrivacyOptions& p = options_.privacy;
    p.enabled = true;
    p.noise_multiplier = 1.5;
    p.update_noise_multiplier = 1.5;
    p.delta = 1e-5;
    p.sampling_rate = 13.0 / 1000.0;
    p.noise_seed = 7;
  }

  double Spent(int64_t rounds) const {
    return SpentEpsilon(options_.privacy, rounds);
  }
};

TEST_F(RoundEnginePrivacyTest, EveryVersionAndRoundCarriesTheEpsilonSpent) {
  auto engine = MakeEngine();
  EXPECT_EQ(engine->current_model()->metrics.at(kEpsilonMetric), 0.0);
  for (int i = 0; i < 3; ++i) PlayRound(*engine, 0.1f, -1, 0);
  ASSERT_EQ(summaries_.size(), 3u);
  for (int k = 1; k <= 3; ++k) {
    const RoundSummary& s = summaries_[k - 1];
    EXPECT_DOUBLE_EQ(s.epsilon, Spent(k)) << k;
    EXPECT_DOUBLE_EQ(s.metrics.at(kEpsilonMetric), Spent(k));
    EXPECT_EQ(s.metrics.at(kPrivacyRoundsMetric), k);
    // The un-noised loss is not released.
    EXPECT_TRUE(std::isnan(s.train_loss));
    EXPECT_EQ(s.metrics.count("train_loss"), 0u);
  }
  EXPECT_GT(Spent(3), Spent(2));
  EXPECT_GT(Spent(2), Spent(1));
}

TEST_F(RoundEnginePrivacyTest, TheMeanGetsNoiseOfTheCalibratedDeviation) {
  auto engine = MakeEngine();
  const int64_t round = engine->round_id();
  PlayRound(*engine, 0.1f, -1, 0);
  ASSERT_EQ(summaries_.size(), 1u);
  // The same draws from the same seed: every coordinate is the mean 0.1
  // plus z * C / n times a standard normal, n = 10 reports.
  auto seed = NoiseSeed(options_.privacy, round);
  ASSERT_TRUE(seed.ok());
  auto noise = privacy::NoiseSource::Create(*seed);
  ASSERT_TRUE(noise.ok());
  auto weights = model::FloatView(engine->current_model()->weights.tensors(0));
  ASSERT_EQ(weights.size(), 4u);
  bool moved = false;
  for (float w : weights) {
    auto n = noise->Next();
    ASSERT_TRUE(n.ok());
    EXPECT_NEAR(w, 0.1 + 1.5 * 2.0 / 10 * *n, 1e-6);
    moved = moved || std::abs(w - 0.1f) > 1e-4;
  }
  EXPECT_TRUE(moved);
}

TEST_F(RoundEnginePrivacyTest, TheTaskStopsWhenTheNextRoundWouldExceedTheBudget) {
  options_.privacy.target_epsilon = (Spent(2) + Spent(3)) / 2;
  {
    auto engine = MakeEngine();
    PlayRound(*engine, 0.1f, -1, 0);
    int assigned = CheckInAll(*engine, 13);
    ASSERT_EQ(assigned, 13);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(engine->SubmitReport(Dev(i), ReportOf(engine->round_id(), 0.1f, 1)).ok());
    }
    // The second round commits, and no third one opens.
    EXPECT_FALSE(engine->RunOnce());
    EXPECT_EQ(engine->phase(), RoundPhase::kFinished);
  }
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_LE(summaries_.back().epsilon, *options_.privacy.target_epsilon);
  // A restarted coordinator does not start over.
  auto restarted = MakeEngine();
  EXPECT_EQ(restarted->phase(), RoundPhase::kFinished);
  EXPECT_FALSE(restarted->RunOnce());
}

TEST_F(RoundEnginePrivacyTest, ARestartResumesTheCountFromTheStore) {
  {
    auto engine = MakeEngine();
    PlayRound(*engine, 0.1f, -1, 0);
    PlayRound(*engine, 0.1f, -1, 0);
  }
  auto engine = MakeEngine();
  PlayRound(*engine, 0.1f, -1, 0);
  ASSERT_EQ(summaries_.size(), 3u);
  EXPECT_EQ(summaries_.back().metrics.at(kPrivacyRoundsMetric), 3);
  EXPECT_DOUBLE_EQ(summaries_.back().epsilon, Spent(3));
}

TEST_F(RoundEnginePrivacyTest, ARollbackKeepsWhatWasSpent) {
  RoundCommitter committer(options_, store_.get(), &model_, &clock_);
  auto v1 = committer.CommitInitial();
  ASSERT_TRUE(v1.ok()) << v1.status();
  auto v2 = committer.Commit(RoundResult{.round_id = 1,
                                         .parent = *v1,
                                         .mean_delta = model_.Filled(0.1f),
                                         .examples = 10,
                                         .participants = 10,
                                         .mean_loss = 0.0,
                                         .clipped = std::nullopt,
                                         .field = std::nullopt});
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(committer.privacy_rounds(), 1);
  auto back = committer.RollBack(**v1, (*v2)->version, "test", "operator");
  ASSERT_TRUE(back.ok()) << back.status();
  // Version 1's metrics say 0 rounds; the rollback copies its weights but
  // not its budget.
  EXPECT_EQ((*back)->metrics.at(kPrivacyRoundsMetric), 1);
  EXPECT_DOUBLE_EQ((*back)->metrics.at(kEpsilonMetric), Spent(1));
  EXPECT_EQ(committer.privacy_rounds(), 1);
  // A fresh committer on the same store reads the count back.
  RoundCommitter again(options_, store_.get(), &model_, &clock_);
  ASSERT_TRUE(again.LoadPrivacyRounds().ok());
  EXPECT_EQ(again.privacy_rounds(), 1);
}


TEST_F(RoundEnginePrivacyTest, SettingsThatUnderReportTheSpentRoundsAreRefusedOnRestart) {
  {
    auto engine = MakeEngine();
    PlayRound(*engine, 0.1f, -1, 0);
  }
  // More noise would price the round already spent lower than it cost.
  options_.privacy.noise_multiplier = 3.0;
  options_.privacy.update_noise_multiplier = 3.0;
  RoundEngine cheaper(options_, store_.get(), &model_, &clock_);
  absl::Status s = cheaper.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("under-report"), std::string::npos) << s;
  // Less noise prices it higher: accepted, every round charged the more.
  options_.privacy.noise_multiplier = 0.7;
  options_.privacy.update_noise_multiplier = 0.7;
  RoundEngine dearer(options_, store_.get(), &model_, &clock_);
  EXPECT_TRUE(dearer.Start().ok());
}

TEST_F(RoundEnginePrivacyTest, ATaskTrainedInTheClearCannotTurnPrivacyOn) {
  options_.privacy.enabled = false;
  {
    auto engine = MakeEngine();
    PlayRound(*engine, 0.1f, -1, 0);
  }
  options_.privacy.enabled = true;
  RoundEngine now_private(options_, store_.get(), &model_, &clock_);
  absl::Status s = now_private.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("without differential privacy"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace cohort::server
