#include "server/round/round_options.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/round/round_options_testing.h"

namespace cohort::server {
namespace {

TEST(RoundOptionsDefaultsTest, SecAggAndAFixedClipAreTheDefault) {
  auto o = ResolveRoundOptions("", cohort::v1::RoundConfig(), {});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->secagg.enabled);
  EXPECT_EQ(o->clipping.clip_norm, 10.0);
  EXPECT_FALSE(o->clipping.adaptive);
  EXPECT_FALSE(o->robust.has_value());
  EXPECT_EQ(o->plan.proximal_mu(), 0.0f);
  // Set to true explicitly: the same; false: plain FedAvg.
  cohort::v1::RoundConfig c;
  c.mutable_secure_aggregation()->set_enabled(true);
  EXPECT_TRUE(ResolveRoundOptions("", c, {})->secagg.enabled);
  EXPECT_FALSE(ResolveRoundOptions("", Plain(), {})->secagg.enabled);
}

TEST(RoundOptionsDefaultsTest, OneDeviceRoundsNeedPlainFedAvgAndSayHow) {
  cohort::v1::RoundConfig c;
  c.set_goal_count(1);
  const absl::Status s = Resolve(c);
  ExpectRefused(s, "round.goal_count");
  EXPECT_NE(s.message().find("enabled: false"), std::string::npos) << s;
  c.mutable_secure_aggregation()->set_enabled(false);
  EXPECT_TRUE(Resolve(c).ok());
}

TEST(RoundOptionsSecAggTest, GroupSizeReachesTheOptionsAndIsChecked) {
  cohort::v1::RoundConfig c;
  EXPECT_EQ(ResolveRoundOptions("", c, {})->secagg.max_group_size, 0);
  c.mutable_secure_aggregation()->set_max_group_size(500);
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->secagg.max_group_size, 500);
  // A group of 2 could leave a group of 1, whose "sum" is its update.
  c.mutable_secure_aggregation()->set_max_group_size(2);
  ExpectRefused(Resolve(c), "round.secure_aggregation.max_group_size");
  c.mutable_secure_aggregation()->set_max_group_size(-1);
  ExpectRefused(Resolve(c), "round.secure_aggregation.max_group_size");
}

TEST(RoundOptionsClippingTest, FieldsReachTheOptions) {
  cohort::v1::RoundConfig c;
  c.mutable_clipping()->set_clip_norm(2.5);
  auto* a = c.mutable_clipping()->mutable_adaptive();
  a->set_target_quantile(0.7);
  a->set_learning_rate(0.1);
  a->set_min_clip_norm(0.5);
  a->set_max_clip_norm(40);
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->clipping.clip_norm, 2.5);
  EXPECT_TRUE(o->clipping.adaptive);
  EXPECT_EQ(o->clipping.target_quantile, 0.7);
  EXPECT_EQ(o->clipping.learning_rate, 0.1);
  EXPECT_EQ(o->clipping.min_clip_norm, 0.5);
  EXPECT_EQ(o->clipping.max_clip_norm, 40);
  // An empty adaptive message turns it on with the paper's defaults.
  cohort::v1::RoundConfig d;
  d.mutable_clipping()->mutable_adaptive();
  o = ResolveRoundOptions("", d, {});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->clipping.adaptive);
  EXPECT_EQ(o->clipping.target_quantile, 0.5);
  EXPECT_EQ(o->clipping.learning_rate, 0.2);
}

TEST(RoundOptionsClippingTest, BadValuesNameTheirField) {
  for (double bad : {-1.0, 2e6, std::nan("")}) {
    cohort::v1::RoundConfig c;
    c.mutable_clipping()->set_clip_norm(bad);
    ExpectRefused(Resolve(c), "round.clipping.clip_norm");
    cohort::v1::RoundConfig s;
    s.mutable_clipping()->set_statistics_clip_norm(bad);
    ExpectRefused(Resolve(s), "round.clipping.statistics_clip_norm");
  }
  cohort::v1::RoundConfig c;
  c.mutable_clipping()->mutable_adaptive()->set_target_quantile(1.0);
  ExpectRefused(Resolve(c), "round.clipping.adaptive.target_quantile");
  c.mutable_clipping()->mutable_adaptive()->set_target_quantile(0.5);
  c.mutable_clipping()->mutable_adaptive()->set_min_clip_norm(20);
  ExpectRefused(Resolve(c), "round.clipping.adaptive.min_clip_norm");
  c.mutable_clipping()->mutable_adaptive()->set_min_clip_norm(0);
  c.mutable_clipping()->mutable_adaptive()->set_max_clip_norm(5);
  ExpectRefused(Resolve(c), "round.clipping.adaptive.max_clip_norm");
  // The old place of the bound is refused, naming the new one.
  cohort::v1::RoundConfig old;
  old.mutable_secure_aggregation()->set_clip_norm(3);
  const absl::Status s = Resolve(old);
  ExpectRefused(s, "round.secure_aggregation.clip_norm");
  EXPECT_NE(s.message().find("round.clipping.clip_norm"), std::string::npos);
}

TEST(RoundOptionsPlanTest, NegativeOrNonFiniteMuIsRefused) {
  cohort::v1::TrainingPlan plan;
  plan.set_proximal_mu(0.01f);
  auto o = ResolveRoundOptions("", cohort::v1::RoundConfig(), plan);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->plan.proximal_mu(), 0.01f);
  // 20 with the default learning rate 0.05: mu * lr = 1 diverges.
  for (float bad : {-0.1f, std::nanf(""), HUGE_VALF, 20.0f}) {
    plan.set_proximal_mu(bad);
    ExpectRefused(Resolve(cohort::v1::RoundConfig(), plan), "plan.proximal_mu");
  }
}

TEST(RoundOptionsRobustTest, RobustAggregatorsNeedPlainRounds) {
  for (auto a : {cohort::v1::RoundConfig::TRIMMED_MEAN,
                 cohort::v1::RoundConfig::MEDIAN,
                 cohort::v1::RoundConfig::MULTI_KRUM}) {
    cohort::v1::RoundConfig c;
    c.set_aggregator(a);
    const absl::Status s = Resolve(c);
    ExpectRefused(s, "round.aggregator");
    EXPECT_NE(s.message().find("enabled: false"), std::string::npos) << s;
    c.mutable_secure_aggregation()->set_enabled(false);
    EXPECT_TRUE(Resolve(c).ok()) << a;
  }
}

TEST(RoundOptionsRobustTest, FieldsReachTheOptions) {
  cohort::v1::RoundConfig c = Plain();
  c.set_aggregator(cohort::v1::RoundConfig::TRIMMED_MEAN);
  c.mutable_robust()->set_trim_fraction(0.2);
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok() && o->robust.has_value());
  EXPECT_EQ(o->robust->rule, RobustOptions::Rule::kTrimmedMean);
  EXPECT_EQ(o->robust->trim_fraction, 0.2);

  c = Plain();
  c.set_goal_count(20);
  c.set_aggregator(cohort::v1::RoundConfig::MULTI_KRUM);
  o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok() && o->robust.has_value());
  EXPECT_EQ(o->robust->byzantine_devices, 2);  // 10% of goal_count
  EXPECT_EQ(o->robust->krum_selected, 0);
  c.mutable_robust()->set_byzantine_devices(0);
  c.mutable_robust()->set_krum_selected(5);
  o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->robust->byzantine_devices, 0);
  EXPECT_EQ(o->robust->krum_selected, 5);
}

TEST(RoundOptionsRobustTest, ImpossibleParametersNameTheirField) {
  for (double bad : {0.5, 0.7, -0.1}) {
    cohort::v1::RoundConfig c = Plain();
    c.set_aggregator(cohort::v1::RoundConfig::TRIMMED_MEAN);
    c.mutable_robust()->set_trim_fraction(bad);
    ExpectRefused(Resolve(c), "round.robust.trim_fraction");
  }
  // Multi-Krum with f = 4 needs 11 updates a round; min_reports is 10.
  cohort::v1::RoundConfig k = Plain();
  k.set_aggregator(cohort::v1::RoundConfig::MULTI_KRUM);
  k.mutable_robust()->set_byzantine_devices(4);
  ExpectRefused(Resolve(k), "round.robust.byzantine_devices");
  k.mutable_robust()->set_byzantine_devices(3);
  EXPECT_TRUE(Resolve(k).ok());
  for (int bad : {-1, 8}) {  // at most min_reports - f = 7
    k.mutable_robust()->set_krum_selected(bad);
    ExpectRefused(Resolve(k), "round.robust.krum_selected");
  }
  k.mutable_robust()->set_krum_selected(7);
  EXPECT_TRUE(Resolve(k).ok());
  // f so large that 2f + 3 overflows int: refused, not wrapped, and the
  // message computes 2f + 3 without overflow either (found by the asan
  // preset's UBSan).
  k.mutable_robust()->set_byzantine_devices(2000000000);
  ExpectRefused(Resolve(k), "round.robust.byzantine_devices");
  EXPECT_THAT(std::string(Resolve(k).message()),
              ::testing::HasSubstr("2f + 3 = 4000000003"));
  // A trim that cuts nothing from a round of min_reports updates.
  cohort::v1::RoundConfig small = Plain();
  small.set_aggregator(cohort::v1::RoundConfig::TRIMMED_MEAN);
  small.mutable_robust()->set_trim_fraction(0.05);
  ExpectRefused(Resolve(small), "round.robust.trim_fraction");
  // Parameters of another aggregator, or with the mean.
  cohort::v1::RoundConfig m = Plain();
  m.set_aggregator(cohort::v1::RoundConfig::MEDIAN);
  m.mutable_robust()->set_trim_fraction(0.1);
  ExpectRefused(Resolve(m), "round.robust.trim_fraction");
  cohort::v1::RoundConfig t = Plain();
  t.set_aggregator(cohort::v1::RoundConfig::TRIMMED_MEAN);
  t.mutable_robust()->set_krum_selected(2);
  ExpectRefused(Resolve(t), "round.robust.krum_selected");
  cohort::v1::RoundConfig mean = Plain();
  mean.mutable_robust()->set_byzantine_devices(1);
  ExpectRefused(Resolve(mean), "round.robust.byzantine_devices");
}

TEST(RoundOptionsBufferedTest, DefaultsFollowTheBufferSize) {
  cohort::v1::RoundConfig c = Plain();
  c.set_goal_count(5);
  c.mutable_buffered();
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_TRUE(o->buffered.has_value());
  EXPECT_EQ(o->buffered->concurrency, 10);
  EXPECT_EQ(o->buffered->max_staleness, 10);
  EXPECT_DOUBLE_EQ(o->buffered->staleness_exponent, 0.5);
  EXPECT_EQ(o->selection_target(), 5);
  c.mutable_buffered()->set_concurrency(7);
  c.mutable_buffered()->set_max_staleness(0);
  c.mutable_buffered()->set_staleness_exponent(0);
  o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->buffered->concurrency, 7);
  EXPECT_EQ(o->buffered->max_staleness, 0);
  EXPECT_DOUBLE_EQ(o->buffered->staleness_exponent, 0);
  EXPECT_FALSE(ResolveRoundOptions("", Plain(), {})->buffered.has_value());
}

TEST(RoundOptionsBufferedTest, FieldsNothingWouldReadAreRefused) {
  cohort::v1::RoundConfig c = Plain();
  c.set_goal_count(5);
  c.mutable_buffered();
  cohort::v1::RoundConfig over = c;
  over.set_over_selection(1.3);
  ExpectRefused(Resolve(over), "round.over_selection");
  cohort::v1::RoundConfig selection = c;
  selection.set_selection_timeout_ms(1000);
  ExpectRefused(Resolve(selection), "round.selection_timeout_ms");
  cohort::v1::RoundConfig quorum = c;
  quorum.set_min_reports(3);
  ExpectRefused(Resolve(quorum), "round.min_reports");
  cohort::v1::RoundConfig dp = c;
  dp.mutable_differential_privacy()->set_mechanism(
      cohort::v1::DifferentialPrivacyConfig::CENTRAL_GAUSSIAN);
  ExpectRefused(Resolve(dp), "round.differential_privacy");
  cohort::v1::RoundConfig few = c;
  few.mutable_buffered()->set_concurrency(4);
  ExpectRefused(Resolve(few), "round.buffered.concurrency");
  cohort::v1::RoundConfig stale = c;
  stale.mutable_buffered()->set_max_staleness(-1);
  ExpectRefused(Resolve(stale), "round.buffered.max_staleness");
  cohort::v1::RoundConfig exponent = c;
  exponent.mutable_buffered()->set_staleness_exponent(11);
  ExpectRefused(Resolve(exponent), "round.buffered.staleness_exponent");
  // Under secure aggregation min_reports bounds the buffer's secure sum.
  cohort::v1::RoundConfig secure = c;
  secure.clear_secure_aggregation();
  secure.set_min_reports(3);
  EXPECT_TRUE(Resolve(secure).ok()) << Resolve(secure);
}

}  // namespace
}  // namespace cohort::server
