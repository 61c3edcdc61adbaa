#include "sim/simulator.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/files.h"
#include "common/ml/testing/torchscript_fixtures.h"
#include "gtest/gtest.h"
#include "sim/sim_config.h"
#include "sim/sim_options.h"
#include "tests/sim/sim_run.h"
#include "tests/testing/synthetic_idx.h"

namespace cohort::sim {
namespace {

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/simulator_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(testing::WriteSyntheticFashionMnist(dir_ + "/data", 2000, 300, 4));
  }

  cohort::v1::SimConfig Scenario() {
    cohort::v1::SimConfig c;
    c.mutable_population()->set_num_clients(300);
    c.mutable_population()->set_partition(cohort::v1::PopulationConfig::DIRICHLET);
    c.mutable_population()->set_alpha(0.5);
    c.mutable_population()->set_mean_examples(20);
    c.mutable_population()->set_quantity_sigma(0.5);
    c.set_clients_per_round(12);
    c.mutable_round()->set_min_reports(8);
    // Plain FedAvg; Secure() turns SecAgg+ (the default) back on.
    c.mutable_round()->mutable_secure_aggregation()->set_enabled(false);
    c.mutable_plan()->set_batch_size(8);
    c.mutable_plan()->set_learning_rate(0.05f);
    c.set_architecture("mlp");
    c.set_rounds(3);
    c.set_seed(9);
    c.mutable_devices()->set_speed_sigma(0.5);
    c.mutable_devices()->set_dropout_after_checkin(0.05);
    c.mutable_devices()->set_dropout_during_training(0.1);
    c.mutable_devices()->set_dropout_during_upload(0.05);
    c.mutable_data()->set_idx_dir(dir_ + "/data");
    return c;
  }

  struct Outcome {
    std::vector<SimRoundRow> rows;
    std::string csv;  // without wall_seconds
    std::string model;
  };

  Outcome RunSim(cohort::v1::SimConfig config, TransportKind transport,
                 const std::string& name) {
    testing::SimRun run = testing::RunScenario(config, transport, dir_ + "/" + name);
    Outcome out{std::move(run.rows), std::move(run.csv), ""};
    if (run.sim != nullptr) out.model = run.sim->current_model()->bytes;
    return out;
  }

  std::string dir_;
};

TEST_F(SimulatorTest, RunsRoundsOnVirtualTimeWithDropouts) {
  Outcome o = RunSim(Scenario(), TransportKind::kInProcess, "basic");
  ASSERT_EQ(o.rows.size(), 3u);
  int64_t dropped = 0;
  for (size_t i = 0; i < o.rows.size(); ++i) {
    const SimRoundRow& r = o.rows[i];
    EXPECT_EQ(r.round, static_cast<int64_t>(i + 1));
    EXPECT_GE(r.participants, 8);
    EXPECT_LE(r.participants, 12);
    EXPECT_GT(r.bytes_up, 0);
    // Devices download the int8 artifact (~4x smaller than the fp32 delta
    // they upload) and more devices download than upload.
    EXPECT_GT(r.bytes_down, r.bytes_up / 8);
    EXPECT_LT(r.bytes_down, r.bytes_up);
    EXPECT_GT(r.sim_seconds, i == 0 ? 0.0 : o.rows[i - 1].sim_seconds);
    dropped += r.dropped;
  }
  EXPECT_GT(dropped, 0) << "20% per-round dropout should show up";
  EXPECT_GT(o.rows.back().test_accuracy, o.rows.front().test_accuracy - 0.05);
}

TEST_F(SimulatorTest, SameSeedIsBitIdenticalAcrossThreadCounts) {
  auto one = Scenario();
  one.set_threads(1);
  auto three = Scenario();
  three.set_threads(3);
  Outcome a = RunSim(one, TransportKind::kInProcess, "t1");
  Outcome b = RunSim(three, TransportKind::kInProcess, "t3");
  ASSERT_FALSE(a.csv.empty());
  EXPECT_EQ(a.csv, b.csv);
  EXPECT_TRUE(a.model == b.model);
  auto other = Scenario();
  other.set_seed(10);
  Outcome c = RunSim(other, TransportKind::kInProcess, "seed10");
  EXPECT_NE(a.csv, c.csv);
}

TEST_F(SimulatorTest, InProcessAndGrpcTransportsAgree) {
  const std::string pki = dir_ + "/pki";
  ASSERT_EQ(std::system(absl::StrCat(COHORT_SOURCE_DIR, "/deploy/pki/make-dev-pki.sh ",
                                     pki, " 0 > /dev/null").c_str()), 0);
  auto config = Scenario();
  config.set_rounds(2);
  config.mutable_grpc_tls()->set_cert_path(pki + "/server.crt");
  config.mutable_grpc_tls()->set_key_path(pki + "/server.key");
  config.mutable_grpc_tls()->set_ca_cert_path(pki + "/ca.crt");
  Outcome in_process = RunSim(config, TransportKind::kInProcess, "inproc");
  Outcome grpc = RunSim(config, TransportKind::kGrpc, "grpc");
  ASSERT_EQ(in_process.rows.size(), 2u);
  EXPECT_EQ(in_process.csv, grpc.csv);
  EXPECT_TRUE(in_process.model == grpc.model);
}

TEST_F(SimulatorTest, MillionClientPopulationRunsLazily) {
  auto config = Scenario();
  config.mutable_population()->set_num_clients(1000000);
  config.set_rounds(1);
  Outcome o = RunSim(config, TransportKind::kInProcess, "million");
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_GE(o.rows[0].participants, 8);
}

TEST_F(SimulatorTest, UnfillableRoundsFailCleanly) {
  auto config = Scenario();
  config.mutable_devices()->set_dropout_after_checkin(1.0);
  auto resolved = ResolveSimConfig(config);
  ASSERT_TRUE(resolved.ok());
  auto sim = Simulator::Create(*resolved, TransportKind::kInProcess, dir_ + "/all_drop");
  ASSERT_TRUE(sim.ok());
  absl::Status s = (*sim)->Run({});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ((*sim)->current_model()->version, 1);
}

cohort::v1::SimConfig Secure(cohort::v1::SimConfig c) {
  auto* sa = c.mutable_round()->mutable_secure_aggregation();
  sa->set_enabled(true);
  sa->set_bits_per_coordinate(16);
  sa->set_example_cap(100);
  return c;
}

// FedBuff (round.buffered): K = clients_per_round updates per version, up
// to `concurrency` clients at work.
cohort::v1::SimConfig Buffered(cohort::v1::SimConfig c, int k, int concurrency) {
  c.set_clients_per_round(k);
  c.mutable_round()->clear_min_reports();
  c.mutable_round()->mutable_buffered()->set_concurrency(concurrency);
  return c;
}

// A buffered run on the virtual clock: every row is one buffer of K
// updates, and the first commits long before a synchronous round of twice
// as many clients could, since nobody waits for the slowest.
TEST_F(SimulatorTest, BufferedRunCommitsEveryKUpdatesWithoutWaitingForStragglers) {
  auto sync = Scenario();
  sync.set_rounds(2);
  auto buffered = Buffered(sync, 6, 24);
  buffered.set_rounds(6);
  Outcome s = RunSim(sync, TransportKind::kInProcess, "sync");
  Outcome b = RunSim(buffered, TransportKind::kInProcess, "buffered");
  ASSERT_EQ(s.rows.size(), 2u);
  ASSERT_EQ(b.rows.size(), 6u);
  for (size_t i = 0; i < b.rows.size(); ++i) {
    EXPECT_EQ(b.rows[i].participants, 6) << "buffer " << i + 1;
    EXPECT_GT(b.rows[i].bytes_up, 0) << "buffer " << i + 1;
    if (i > 0) EXPECT_GT(b.rows[i].sim_seconds, b.rows[i - 1].sim_seconds);
  }
  EXPECT_LT(b.rows[0].sim_seconds, s.rows[0].sim_seconds);
  EXPECT_GT(b.rows.back().test_accuracy, b.rows.front().test_accuracy - 0.05);
}

TEST_F(SimulatorTest, BufferedRunIsBitIdenticalAcrossThreadCounts) {
  auto one = Buffered(Scenario(), 6, 24);
  one.set_rounds(4);
  one.set_threads(1);
  auto three = one;
  three.set_threads(3);
  Outcome a = RunSim(one, TransportKind::kInProcess, "t1");
  Outcome b = RunSim(three, TransportKind::kInProcess, "t3");
  ASSERT_EQ(a.rows.size(), 4u);
  EXPECT_EQ(a.csv, b.csv);
  EXPECT_TRUE(a.model == b.model);
}

// Under SecAgg+ each buffer is one instance over its K ready clients.
TEST_F(SimulatorTest, SecureBufferedRunSumsEachBufferSecurely) {
  auto c = Buffered(Secure(Scenario()), 6, 24);
  c.mutable_round()->set_min_reports(4);
  c.set_rounds(3);
  Outcome o = RunSim(c, TransportKind::kInProcess, "secure_buffered");
  ASSERT_EQ(o.rows.size(), 3u);
  for (const SimRoundRow& r : o.rows) {
    EXPECT_GE(r.participants, 4);
    EXPECT_LE(r.participants, 6);
    EXPECT_GE(r.outcome.clipped_fraction, 0.0);
  }
}

// SecAgg+'s four phases of cryptography and messages take the devices time:
// the same scenario, secure, ends later on the virtual clock, and its extra
// traffic is counted both ways.
TEST_F(SimulatorTest, SecureRoundsTakeLongerOnTheVirtualClockThanPlainOnes) {
  auto plain = Scenario();
  plain.set_rounds(2);
  Outcome p = RunSim(plain, TransportKind::kInProcess, "plain");
  Outcome s = RunSim(Secure(plain), TransportKind::kInProcess, "secure");
  ASSERT_EQ(p.rows.size(), 2u);
  ASSERT_EQ(s.rows.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_GT(s.rows[i].sim_seconds, p.rows[i].sim_seconds) << "round " << i + 1;
    EXPECT_GT(s.rows[i].bytes_down, p.rows[i].bytes_down) << "round " << i + 1;
    // Both clip, and say how much: plain rounds from the reports, secure
    // ones from the secure sum.
    EXPECT_GE(p.rows[i].outcome.clipped_fraction, 0.0);
    EXPECT_LE(p.rows[i].outcome.clipped_fraction, 1.0);
    EXPECT_GE(s.rows[i].outcome.clipped_fraction, 0.0);
    EXPECT_LE(s.rows[i].outcome.clipped_fraction, 1.0);
  }
}

// Hierarchical SecAgg+ in the simulator: 12 clients a round in groups of at
// most 4 (three SecAgg+ instances) commit the same rounds with the same
// participants as one instance, and learn as much (the groups' decoded sums
// add to the cohort's sum up to floating-point rounding).
TEST_F(SimulatorTest, SecureRoundsInGroupsCommitWhatOneGroupCommits) {
  auto one = Secure(Scenario());
  one.set_rounds(2);
  auto grouped = one;
  grouped.mutable_round()->mutable_secure_aggregation()->set_max_group_size(4);
  Outcome a = RunSim(one, TransportKind::kInProcess, "one_group");
  Outcome b = RunSim(grouped, TransportKind::kInProcess, "groups");
  ASSERT_EQ(a.rows.size(), 2u);
  ASSERT_EQ(b.rows.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_GE(b.rows[i].participants, 8) << "round " << i + 1;
    EXPECT_EQ(b.rows[i].participants, a.rows[i].participants) << "round " << i + 1;
    EXPECT_NEAR(b.rows[i].test_accuracy, a.rows[i].test_accuracy, 0.02)
        << "round " << i + 1;
    // Groups of 4 share keys with 3 neighbours instead of the whole cohort:
    // less SecAgg+ traffic up.
    EXPECT_LT(b.rows[i].bytes_up, a.rows[i].bytes_up) << "round " << i + 1;
  }
}

// Field monitoring in the production path, played by the simulator: every
// device of round 3 sends -20 times its update; in round 4 devices score
// that version on their own data, far below version 3, and the coordinator
// rolls back by itself. The metrics show the drop and the rollback.
TEST_F(SimulatorTest, APoisonedRoundIsRolledBackByFieldMonitoring) {
  auto c = Scenario();
  c.set_rounds(5);
  c.mutable_round()->mutable_field_monitor()->set_min_reports(5);
  c.mutable_round()->mutable_field_monitor()->set_max_accuracy_drop(0.05);
  c.mutable_poison()->set_round(3);
  c.mutable_poison()->set_scale(-20);
  Outcome o = RunSim(c, TransportKind::kInProcess, "poisoned");
  ASSERT_EQ(o.rows.size(), 5u) << o.csv;
  for (int i : {0, 1, 2, 4}) {
    EXPECT_EQ(o.rows[i].outcome.release, "committed") << "row " << i << "\n"
                                                      << o.csv;
  }
  const server::RoundOutcome& poisoned = o.rows[3].outcome;
  EXPECT_EQ(poisoned.release, "rolled_back") << o.csv;
  EXPECT_GE(poisoned.field_reports, 5);
  EXPECT_LT(poisoned.field_accuracy, o.rows[2].outcome.field_accuracy - 0.05)
      << o.csv;
  // The rollback serves version 3's weights: its holdout accuracy is back.
  EXPECT_DOUBLE_EQ(o.rows[3].test_accuracy, o.rows[1].test_accuracy) << o.csv;
  EXPECT_NE(o.csv.find(",rolled_back,nan,nan\n"), std::string::npos) << o.csv;

  // Unpoisoned, the same scenario never rolls back.
  c.clear_poison();
  Outcome clean = RunSim(c, TransportKind::kInProcess, "clean");
  ASSERT_EQ(clean.rows.size(), 5u);
  EXPECT_EQ(clean.csv.find("rolled_back"), std::string::npos) << clean.csv;
  // Drift tells the two apart: the devices' inputs are the same in both
  // runs, so feature drift is too; the poisoned version's predictions moved
  // far more than the clean version's (measured 0.86 against 0.16).
  const server::RoundOutcome& same_round = clean.rows[3].outcome;
  ASSERT_FALSE(std::isnan(poisoned.field_feature_drift)) << o.csv;
  EXPECT_DOUBLE_EQ(poisoned.field_feature_drift,
                   same_round.field_feature_drift);
  EXPECT_GT(poisoned.field_prediction_drift,
            same_round.field_prediction_drift + 0.4)
      << o.csv << clean.csv;
}

// A malicious quarter of the clients sends its update flipped and scaled
// 20x in every round (each still within the bound of 10, so clipping alone
// does not stop them). With the mean they drag the model to chance; the
// coordinate-wise median leaves them out and training proceeds.
TEST_F(SimulatorTest, TheMedianWithstandsAMaliciousMinorityInEveryRound) {
  auto c = Scenario();
  c.set_rounds(4);
  c.mutable_poison()->set_round(1);
  c.mutable_poison()->set_rounds(4);
  c.mutable_poison()->set_fraction(0.25);
  c.mutable_poison()->set_scale(-20);
  Outcome mean = RunSim(c, TransportKind::kInProcess, "mean");
  c.mutable_round()->set_aggregator(cohort::v1::RoundConfig::MEDIAN);
  Outcome median = RunSim(c, TransportKind::kInProcess, "median");
  ASSERT_EQ(mean.rows.size(), 4u);
  ASSERT_EQ(median.rows.size(), 4u);
  EXPECT_LT(mean.rows.back().test_accuracy, 0.2) << mean.csv;
  EXPECT_GT(median.rows.back().test_accuracy,
            mean.rows.back().test_accuracy + 0.1)
      << mean.csv << median.csv;
}

// The clipped fraction comes out of the secure sum: with a clip norm no
// update fits under, every summed update was clipped; with a huge one, none.
TEST_F(SimulatorTest, SecureRoundsReportTheClippedFraction) {
  auto tight = Secure(Scenario());
  tight.set_rounds(1);
  tight.mutable_round()->mutable_clipping()->set_clip_norm(1e-6);
  auto loose = tight;
  loose.mutable_round()->mutable_clipping()->set_clip_norm(1e6);
  Outcome t = RunSim(tight, TransportKind::kInProcess, "tight");
  Outcome l = RunSim(loose, TransportKind::kInProcess, "loose");
  ASSERT_EQ(t.rows.size(), 1u);
  ASSERT_EQ(l.rows.size(), 1u);
  EXPECT_DOUBLE_EQ(t.rows[0].outcome.clipped_fraction, 1.0);
  EXPECT_DOUBLE_EQ(l.rows[0].outcome.clipped_fraction, 0.0);
  EXPECT_NE(t.csv.find(",0.000001,1.000000,nan,0,nan,0,nan,nan,committed,nan,nan\n"),
            std::string::npos)
      << t.csv;
}

// Central DP on secure rounds: every row carries the epsilon the accountant
// gives for the rounds so far, the noise repeats with the seed, the loss is
// not released, and the run stops before the round that would exceed the
// budget.
TEST_F(SimulatorTest, CentralPrivacyReportsEpsilonAndStopsAtTheBudget) {
  auto c = Secure(Scenario());
  c.set_rounds(5);
  // Every device weighs 1 under DP: no example cap.
  c.mutable_round()->mutable_secure_aggregation()->clear_example_cap();
  auto* dp = c.mutable_round()->mutable_differential_privacy();
  dp->set_mechanism(cohort::v1::DifferentialPrivacyConfig::CENTRAL_GAUSSIAN);
  dp->set_noise_multiplier(1.0);
  auto resolved = ResolveSimOptions(c);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const server::PrivacyOptions p = resolved->round.privacy;
  // population_size defaults to the simulated population.
  EXPECT_DOUBLE_EQ(p.sampling_rate, 16.0 / 300.0);
  dp->set_target_epsilon((server::SpentEpsilon(p, 3) + server::SpentEpsilon(p, 4)) / 2);
  dp->set_planned_rounds(3);
  Outcome a = RunSim(c, TransportKind::kInProcess, "dp1");
  Outcome b = RunSim(c, TransportKind::kInProcess, "dp2");
  ASSERT_EQ(a.rows.size(), 3u);
  for (size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_DOUBLE_EQ(a.rows[i].outcome.epsilon,
                     server::SpentEpsilon(p, static_cast<int64_t>(i) + 1));
    EXPECT_TRUE(std::isnan(a.rows[i].train_loss));
  }
  EXPECT_EQ(a.csv, b.csv);
  EXPECT_TRUE(a.model == b.model);
}

// Distributed DP: the devices' discrete Gaussian noise is in the secure sum,
// every row carries the epsilon spent, the run repeats with its seed, and
// the noisy model still evaluates.
TEST_F(SimulatorTest, DistributedPrivacyNoisesInsideTheSecureSum) {
  auto c = Secure(Scenario());
  c.mutable_round()->mutable_secure_aggregation()->clear_example_cap();
  auto* dp = c.mutable_round()->mutable_differential_privacy();
  dp->set_mechanism(
      cohort::v1::DifferentialPrivacyConfig::DISTRIBUTED_DISCRETE_GAUSSIAN);
  dp->set_noise_multiplier(0.8);
  Outcome a = RunSim(c, TransportKind::kInProcess, "ddg1");
  Outcome b = RunSim(c, TransportKind::kInProcess, "ddg2");
  ASSERT_EQ(a.rows.size(), 3u);
  for (size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_TRUE(std::isfinite(a.rows[i].outcome.epsilon));
    if (i > 0) EXPECT_GT(a.rows[i].outcome.epsilon, a.rows[i - 1].outcome.epsilon);
    EXPECT_TRUE(std::isnan(a.rows[i].outcome.clipped_fraction));
    EXPECT_GT(a.rows[i].test_accuracy, 0.0);
  }
  EXPECT_EQ(a.csv, b.csv);
  EXPECT_TRUE(a.model == b.model);
}

// Devices leaving SecAgg+ after sharing their keys, far more than the
// thresholds plan for, abort every secure round; the run's error says that,
// with the phase and threshold, instead of blaming reachability.
TEST_F(SimulatorTest, HeavySecAggDropoutFailsNamingSecAggPhaseAndThreshold) {
  auto config = Secure(Scenario());
  config.mutable_devices()->set_secagg_dropout_after_shares(0.9);
  auto resolved = ResolveSimConfig(config);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  auto sim = Simulator::Create(*resolved, TransportKind::kInProcess,
                               dir_ + "/secagg_drop");
  ASSERT_TRUE(sim.ok()) << sim.status();
  absl::Status s = (*sim)->Run({});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  const std::string m(s.message());
  EXPECT_NE(m.find("SecAgg+ aborted in phase "), std::string::npos) << m;
  EXPECT_TRUE(m.find("ShareKeys") != std::string::npos ||
              m.find("MaskedInputCollection") != std::string::npos)
      << m;
  EXPECT_NE(m.find("threshold t="), std::string::npos) << m;
  EXPECT_EQ(m.find("reachable"), std::string::npos) << m;
  EXPECT_EQ((*sim)->current_model()->version, 1);
}

// A scenario a fleet could not run fails here too: the small CNN's fp32
// report (46,730 parameters, about 187 KB) over a 100 KB message limit is
// refused before any round, naming the field.
TEST_F(SimulatorTest, ReportsOverTheMessageLimitAreRefusedAtStart) {
  auto config = Scenario();
  config.set_architecture("small_cnn");
  config.set_max_message_bytes(100 << 10);
  auto resolved = ResolveSimConfig(config);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  auto sim = Simulator::Create(*resolved, TransportKind::kInProcess,
                               dir_ + "/too_big");
  ASSERT_FALSE(sim.ok());
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(sim.status().message().find("max_message_bytes"), std::string::npos)
      << sim.status();
}

// Bring your own model through rounds: an imported TorchScript chain is
// published under its chain as the architecture, and clients rebuild,
// train and report on it like a zoo model.
TEST_F(SimulatorTest, ImportedTorchScriptModelTrainsThroughRounds) {
  const std::string module = dir_ + "/chain_cnn.pt";
  ASSERT_TRUE(ml::testing::WriteTorchScriptFixture(
                  ml::testing::Fixture::kChainCnn, module)
                  .ok());
  cohort::v1::SimConfig c = Scenario();
  c.set_torchscript_path(module);
  Outcome o = RunSim(c, TransportKind::kInProcess, "imported");
  ASSERT_EQ(o.rows.size(), 3u);
  cohort::v1::Weights published;
  ASSERT_TRUE(published.ParseFromString(o.model));
  // The module's own parameter names, published as an int8 artifact.
  EXPECT_EQ(published.tensors(0).name(), "features_conv.weight");
  EXPECT_EQ(published.tensors(0).dtype(), cohort::v1::DTYPE_INT8);
  EXPECT_GT(o.rows.back().test_accuracy, o.rows.front().test_accuracy - 0.05);
  EXPECT_GT(o.rows.back().participants, 0);
}

}  // namespace
}  // namespace cohort::sim
