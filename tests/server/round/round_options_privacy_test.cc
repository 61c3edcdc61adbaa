// ResolveRoundOptions on RoundConfig.differential_privacy.

#include <cmath>

#include "common/privacy/rdp_accountant.h"
#include "common/secagg/distributed_encoding.h"
#include "gtest/gtest.h"
#include "server/round/round_options.h"
#include "tests/server/round/round_options_testing.h"

namespace cohort::server {
namespace {

using Dp = cohort::v1::DifferentialPrivacyConfig;

// 100 devices a round (goal 100, no over-selection) of 1,000: q = 0.1.
cohort::v1::RoundConfig Private() {
  cohort::v1::RoundConfig c;
  c.set_goal_count(100);
  c.set_min_reports(80);
  c.set_over_selection(1.0);
  c.set_max_rounds(50);
  Dp* d = c.mutable_differential_privacy();
  d->set_mechanism(Dp::CENTRAL_GAUSSIAN);
  d->set_population_size(1000);
  return c;
}

TEST(RoundOptionsPrivacyTest, OffByDefault) {
  auto o = ResolveRoundOptions("", cohort::v1::RoundConfig(), {});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->privacy.enabled);
}

TEST(RoundOptionsPrivacyTest, TheNoiseIsDerivedFromTheBudget) {
  cohort::v1::RoundConfig c = Private();
  c.mutable_differential_privacy()->set_target_epsilon(4.0);
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  const PrivacyOptions& p = o->privacy;
  EXPECT_TRUE(p.enabled);
  EXPECT_DOUBLE_EQ(p.sampling_rate, 0.1);
  EXPECT_EQ(p.delta, 1e-5);
  EXPECT_EQ(p.target_epsilon, 4.0);
  // The smallest z that keeps 50 rounds (max_rounds) within the budget.
  EXPECT_LE(privacy::SubsampledGaussianEpsilon(0.1, p.noise_multiplier, 50, 1e-5),
            4.0);
  EXPECT_GT(privacy::SubsampledGaussianEpsilon(0.1, p.noise_multiplier * 0.999,
                                               50, 1e-5),
            4.0);
  EXPECT_EQ(p.update_noise_multiplier, p.noise_multiplier);
  // Every device weighs 1, secure rounds included.
  EXPECT_EQ(o->secagg.example_cap, 1);
}

TEST(RoundOptionsPrivacyTest, AdaptiveClippingTakesItsShareOfTheNoise) {
  cohort::v1::RoundConfig c = Private();
  c.mutable_differential_privacy()->set_noise_multiplier(1.0);
  c.mutable_clipping()->mutable_adaptive();
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  // sigma_b = goal_count / 20 = 5: z_update = (1 - 1/100)^(-1/2).
  EXPECT_EQ(o->privacy.clipped_count_stddev, 5.0);
  EXPECT_NEAR(o->privacy.update_noise_multiplier, 1 / std::sqrt(0.99), 1e-12);
}

TEST(RoundOptionsPrivacyTest, ABudgetTheNoiseCannotKeepIsRefused) {
  // z = 0.5 over 50 rounds at q = 0.1 spends far more than epsilon 1.
  cohort::v1::RoundConfig c = Private();
  c.mutable_differential_privacy()->set_noise_multiplier(0.5);
  c.mutable_differential_privacy()->set_target_epsilon(1.0);
  ExpectRefused(Resolve(c), "round.differential_privacy.target_epsilon");
  // A budget no noise can reach.
  cohort::v1::RoundConfig tiny = Private();
  tiny.mutable_differential_privacy()->set_target_epsilon(1e-6);
  ExpectRefused(Resolve(tiny), "round.differential_privacy.target_epsilon");
  // Enough noise: accepted, z as given.
  c.mutable_differential_privacy()->set_noise_multiplier(5.0);
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->privacy.noise_multiplier, 5.0);
}

TEST(RoundOptionsPrivacyTest, BadValuesNameTheirField) {
  cohort::v1::RoundConfig none = Private();
  ExpectRefused(Resolve(none), "round.differential_privacy.noise_multiplier");

  cohort::v1::RoundConfig c = Private();
  c.mutable_differential_privacy()->set_noise_multiplier(-1);
  ExpectRefused(Resolve(c), "round.differential_privacy.noise_multiplier");
  c = Private();
  c.mutable_differential_privacy()->set_noise_multiplier(1);
  for (double d : {-1e-5, 0.2, std::nan("")}) {
    c.mutable_differential_privacy()->set_delta(d);
    ExpectRefused(Resolve(c), "round.differential_privacy.delta");
  }
  c = Private();
  c.mutable_differential_privacy()->set_noise_multiplier(1);
  c.mutable_differential_privacy()->set_population_size(99);
  ExpectRefused(Resolve(c), "round.differential_privacy.population_size");
  c.mutable_differential_privacy()->set_population_size(0);
  ExpectRefused(Resolve(c), "round.differential_privacy.population_size");

  c = Private();
  c.set_max_rounds(0);
  c.mutable_differential_privacy()->set_target_epsilon(2.0);
  ExpectRefused(Resolve(c), "round.differential_privacy.planned_rounds");
  c.mutable_differential_privacy()->set_planned_rounds(20);
  EXPECT_TRUE(Resolve(c).ok());

  c = Private();
  c.mutable_differential_privacy()->set_noise_multiplier(1);
  c.mutable_differential_privacy()->set_clipped_count_stddev(2);
  ExpectRefused(Resolve(c), "round.differential_privacy.clipped_count_stddev");
  c.mutable_clipping()->mutable_adaptive();
  c.mutable_differential_privacy()->set_clipped_count_stddev(0.4);
  ExpectRefused(Resolve(c), "round.differential_privacy.clipped_count_stddev");

  cohort::v1::RoundConfig stray;
  stray.mutable_differential_privacy()->set_noise_multiplier(1);
  ExpectRefused(Resolve(stray), "round.differential_privacy.noise_multiplier");
}

TEST(RoundOptionsPrivacyTest, WhatTheNoiseCannotCoverIsRefused) {
  cohort::v1::RoundConfig robust = Private();
  robust.mutable_differential_privacy()->set_noise_multiplier(1);
  robust.mutable_secure_aggregation()->set_enabled(false);
  robust.set_aggregator(cohort::v1::RoundConfig::MEDIAN);
  ExpectRefused(Resolve(robust), "round.aggregator");

  cohort::v1::RoundConfig field = Private();
  field.mutable_differential_privacy()->set_noise_multiplier(1);
  field.mutable_field_monitor()->set_min_reports(5);
  ExpectRefused(Resolve(field), "round.field_monitor.min_reports");

  cohort::v1::RoundConfig cap = Private();
  cap.mutable_differential_privacy()->set_noise_multiplier(1);
  cap.mutable_secure_aggregation()->set_example_cap(100);
  ExpectRefused(Resolve(cap), "round.secure_aggregation.example_cap");
}


TEST(RoundOptionsPrivacyTest, DistributedNeedsSecureRoundsAndAFixedBound) {
  cohort::v1::RoundConfig plain = Private();
  plain.mutable_differential_privacy()->set_mechanism(
      Dp::DISTRIBUTED_DISCRETE_GAUSSIAN);
  plain.mutable_differential_privacy()->set_noise_multiplier(1);
  plain.mutable_secure_aggregation()->set_enabled(false);
  ExpectRefused(Resolve(plain), "round.differential_privacy.mechanism");
  cohort::v1::RoundConfig adaptive = Private();
  adaptive.mutable_differential_privacy()->set_mechanism(
      Dp::DISTRIBUTED_DISCRETE_GAUSSIAN);
  adaptive.mutable_differential_privacy()->set_noise_multiplier(1);
  adaptive.mutable_clipping()->mutable_adaptive();
  ExpectRefused(Resolve(adaptive), "round.clipping.adaptive");
  // Each SecAgg group would release a sum with only its own devices' noise.
  cohort::v1::RoundConfig grouped = Private();
  grouped.mutable_differential_privacy()->set_mechanism(
      Dp::DISTRIBUTED_DISCRETE_GAUSSIAN);
  grouped.mutable_differential_privacy()->set_noise_multiplier(1);
  grouped.mutable_secure_aggregation()->set_max_group_size(50);
  ExpectRefused(Resolve(grouped), "round.secure_aggregation.max_group_size");
}

TEST(RoundOptionsPrivacyTest, DistributedIsPlannedForTheModel) {
  cohort::v1::RoundConfig c = Private();
  c.mutable_differential_privacy()->set_mechanism(
      Dp::DISTRIBUTED_DISCRETE_GAUSSIAN);
  c.mutable_differential_privacy()->set_target_epsilon(4.0);
  auto o = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->privacy.distributed);
  EXPECT_TRUE(o->secagg.rotate);
  EXPECT_EQ(o->privacy.min_contributors, 80);
  EXPECT_EQ(o->privacy.noise_multiplier, 0.0);  // derived with the model
  ASSERT_TRUE(PlanDistributedPrivacy(*o, 5000).ok());
  const PrivacyOptions& p = o->privacy;
  ASSERT_TRUE(o->secagg.distributed_encoding.has_value());
  ASSERT_TRUE(p.distributed_mechanism.has_value());
  EXPECT_GT(p.noise_multiplier, 0.0);
  // The budget holds for max_rounds (50), and barely: 1% less noise spends
  // more.
  EXPECT_LE(SpentEpsilon(p, 50), 4.0);
  PrivacyOptions less = p;
  auto encoding = secagg::PlanDistributedEncoding(
      16, 10.0, 0, 5000, 100, 80, p.noise_multiplier * 0.99);
  ASSERT_TRUE(encoding.ok());
  less.distributed_mechanism = DistributedMechanismOf(*encoding, 80);
  EXPECT_GT(SpentEpsilon(less, 50), 4.0);
  // The general subsampling bound is looser than central DP's exact
  // analysis: the same z never spends less.
  PrivacyOptions central = p;
  central.distributed = false;
  EXPECT_GE(SpentEpsilon(p, 50), SpentEpsilon(central, 50));

  // A budget the distributed noise cannot keep, once planned, is refused.
  c.mutable_differential_privacy()->set_noise_multiplier(0.3);
  auto tight = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(tight.ok()) << tight.status();
  ExpectRefused(PlanDistributedPrivacy(*tight, 5000),
                "round.differential_privacy.target_epsilon");
  // Too few bits for the noise.
  c.mutable_differential_privacy()->set_noise_multiplier(1.0);
  c.mutable_differential_privacy()->clear_target_epsilon();
  c.mutable_secure_aggregation()->set_bits_per_coordinate(4);
  auto narrow = ResolveRoundOptions("", c, {});
  ASSERT_TRUE(narrow.ok()) << narrow.status();
  ExpectRefused(PlanDistributedPrivacy(*narrow, 1 << 20),
                "round.secure_aggregation.bits_per_coordinate");
}

}  // namespace
}  // namespace cohort::server
