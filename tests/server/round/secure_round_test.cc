// Secure rounds through the RoundEngine: devices run SecAggParticipant over
// in-memory channels, exactly the messages the Participate stream carries.

#include <cmath>

#include "tests/server/round/secure_round_fixture.h"

namespace cohort::server {
namespace {

using testing_secure::Device;
using testing_secure::SecureRoundTest;

TEST_F(SecureRoundTest, CommitsTheExampleWeightedMeanOfTheSecureSum) {
  Train({0.1f, 0.2f, 0.3f, -0.1f, 0.5f, 0.05f}, {10, 20, 30, 40, 50, 300});
  EXPECT_EQ(engine_->phase(), RoundPhase::kAggregating);
  Pump();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].participants, 6);
  // Counts are capped at 100: weights 10, 20, 30, 40, 50, 100.
  EXPECT_EQ(summaries_[0].total_examples, 250);
  const double expected =
      (0.1 * 10 + 0.2 * 20 + 0.3 * 30 - 0.1 * 40 + 0.5 * 50 + 0.05 * 100) / 250;
  EXPECT_NEAR(CurrentValue(), expected, 1e-3);
  EXPECT_NEAR(summaries_[0].train_loss, 0.5, 1e-3);
  for (auto& d : devices_) {
    ASSERT_TRUE(d.ack.has_value()) << d.name;
    EXPECT_TRUE(d.ack->accepted()) << d.name;
  }
}

// Field evaluations travel inside the masked inputs: the coordinator
// records their mean for the version the round trained from, counting the
// devices that evaluated, and never sees one device's numbers.
TEST_F(SecureRoundTest, FieldStatisticsAreSummedSecurely) {
  options_.field_min_reports = 1;
  options_.secagg.field = secagg::ImageFieldLayout();
  StartEngine(6);
  const int64_t v = engine_->current_model()->version;
  auto unusable = testing::ImageEvaluation(v, 0.9, 0, 0.5);
  unusable.mutable_summary()->clear_feature_mean();
  Train({0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f}, std::vector<int64_t>(6, 50),
        {testing::ImageEvaluation(v, 0.2, 1, 0.1),
         testing::ImageEvaluation(v, 0.4, 1, 0.3),
         testing::ImageEvaluation(v, 0.6, 3, 0.5),
         testing::ImageEvaluation(v, 0.8, 3, 0.7), std::nullopt, unusable});
  Pump();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].participants, 6);
  EXPECT_EQ(summaries_[0].field_reports, 4);
  EXPECT_NEAR(summaries_[0].field_accuracy, 0.5, 1e-3);
  // One version has summaries so far: nothing to drift from.
  EXPECT_TRUE(std::isnan(summaries_[0].field_feature_drift));
  EXPECT_NEAR(CurrentValue(), 0.1, 1e-3);
}

TEST_F(SecureRoundTest, DevicesDroppingInEachPhaseLeaveTheSurvivorsSum) {
  // 8 devices: complete graph, t = 4, so 5 responders can unmask.
  StartEngine(8);
  Train({1, 1, 1, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, std::vector<int64_t>(8, 50));
  // device-0 leaves after its keys, device-1 after its shares (stream
  // closes), device-2 goes silent after its masked input.
  Pump([&](Device& d, const cohort::v1::SecAggClientMessage& m) {
    if (d.name == "device-0" && m.has_share_keys()) {
      engine_->Drop(d.name, round_);
      d.silent = true;
      return false;
    }
    if (d.name == "device-1" && m.has_masked_input()) {
      engine_->Drop(d.name, round_);
      d.silent = true;
      return false;
    }
    if (d.name == "device-2" && m.has_unmasking_response()) {
      d.silent = true;
      return false;
    }
    return true;
  });
  if (summaries_.empty()) {
    // device-2's silence holds Unmasking until its deadline.
    clock_.Advance(absl::Seconds(31));
    Pump();
  }
  ASSERT_EQ(summaries_.size(), 1u);
  // In the sum: device-2 (its masked input arrived) and devices 3..7.
  EXPECT_EQ(summaries_[0].participants, 6);
  EXPECT_NEAR(CurrentValue(), (1 + 0.2 * 5) / 6, 1e-3);
  // Only the devices in the sum are told their update was used.
  for (int i : {0, 1}) {
    EXPECT_TRUE(!devices_[i].ack.has_value() || !devices_[i].ack->accepted());
  }
  EXPECT_TRUE(devices_[2].ack.has_value() && devices_[2].ack->accepted());
  EXPECT_TRUE(devices_[3].ack.has_value() && devices_[3].ack->accepted());
}

TEST_F(SecureRoundTest, TooManyDropsAbandonTheRoundAndReleaseNothing) {
  Train({1, 1, 1, 1, 1, 1}, {10, 10, 10, 10, 10, 10});
  // 4 of 6 leave after their keys: 2 < t = 3.
  Pump([&](Device& d, const cohort::v1::SecAggClientMessage& m) {
    if (d.name <= "device-3" && m.has_share_keys()) {
      engine_->Drop(d.name, round_);
      d.silent = true;
      return false;
    }
    return true;
  });
  clock_.Advance(absl::Seconds(31));
  Pump();
  EXPECT_TRUE(summaries_.empty());
  // The reason names SecAgg+, the phase, its threshold and the survivors.
  ASSERT_EQ(abandoned_.size(), 1u);
  ASSERT_TRUE(abandoned_[0].abandoned.has_value());
  const AbandonReason& why = *abandoned_[0].abandoned;
  EXPECT_EQ(why.cause, AbandonCause::kSecAggAborted);
  EXPECT_EQ(why.phase, "ShareKeys");
  EXPECT_EQ(why.threshold, 3);
  EXPECT_EQ(why.survivors, 2);
  EXPECT_EQ(why.cohort, 6);
  EXPECT_EQ(why.drops.secagg, 4);
  EXPECT_EQ(abandoned_[0].drops.secagg, 4);
  EXPECT_NE(why.ToString().find("SecAgg+ aborted in phase ShareKeys"),
            std::string::npos)
      << why.ToString();
  EXPECT_EQ(engine_->current_model()->version, 1);
  EXPECT_EQ(engine_->phase(), RoundPhase::kSelecting);  // the next round
  EXPECT_GT(engine_->round_id(), round_);
  for (size_t i = 4; i < devices_.size(); ++i) {
    ASSERT_TRUE(devices_[i].ack.has_value());
    EXPECT_FALSE(devices_[i].ack->accepted());
  }
}

TEST_F(SecureRoundTest, MalformedMessageDropsOnlyItsSender) {
  Train({0.4f, 0.4f, 0.4f, 0.4f, 0.4f, 0.1f}, {10, 10, 10, 10, 10, 10});
  Pump([&](Device& d, const cohort::v1::SecAggClientMessage& m) {
    if (d.name == "device-5" && m.has_masked_input()) {
      cohort::v1::SecAggClientMessage bad = m;
      bad.mutable_masked_input()->mutable_packed()->pop_back();
      auto r = engine_->SubmitSecAgg(d.name, round_, bad, d.channel);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
      d.silent = true;
      return false;
    }
    return true;
  });
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].participants, 5);
  EXPECT_NEAR(CurrentValue(), 0.4, 1e-3);
  // Out of the protocol with its input not in the sum: a SecAgg+ loss.
  EXPECT_EQ(summaries_[0].drops.secagg, 1);
  EXPECT_EQ(summaries_[0].dropped, 1);
}

// Clipping is counted inside the secure sum: the server learns how many
// updates were clipped, never which.
TEST_F(SecureRoundTest, ClippedFractionCountsUpdatesOverTheClipNorm) {
  options_.clipping.clip_norm = 1.0;  // deltas of all v have norm 2|v| here
  StartEngine(6);
  Train({0.1f, 0.2f, -0.3f, 0.6f, -0.7f, 0.05f}, {10, 10, 10, 10, 10, 10});
  Pump();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0].participants, 6);
  EXPECT_DOUBLE_EQ(summaries_[0].clipped_fraction, 2.0 / 6.0);
  // The clipped ones entered the mean at norm 1: 0.5 and -0.5.
  EXPECT_NEAR(CurrentValue(), (0.1 + 0.2 - 0.3 + 0.5 - 0.5 + 0.05) / 6, 1e-3);
}

// A cohort SecAgg+ cannot serve (here one device, past ResolveRoundOptions)
// abandons the round with that reason, and the waiting device gets its
// answer instead of waiting on its stream until the server stops.
TEST_F(SecureRoundTest, CohortSecAggCannotServeAcksTheWaitingDevice) {
  options_.min_reports = 1;
  StartEngine(1);
  Train({0.5f}, {10});
  EXPECT_TRUE(engine_->RunOnce());
  ASSERT_TRUE(devices_[0].channel->queue.size() >= 1u);
  const auto& last = devices_[0].channel->queue.back();
  ASSERT_TRUE(last.has_ack());
  EXPECT_FALSE(last.ack().accepted());
  EXPECT_NE(last.ack().message().find("SecAgg+ could not start"),
            std::string::npos)
      << last.ack().message();
  ASSERT_EQ(abandoned_.size(), 1u);
  EXPECT_EQ(abandoned_[0].abandoned->cause, AbandonCause::kSecAggNotStarted);
  EXPECT_TRUE(summaries_.empty());
}

TEST_F(SecureRoundTest, PlaintextReportsAndStrangersAreRefused) {
  Train({1, 1, 1, 1}, {1, 1, 1, 1});  // 4 of 6: still selecting
  cohort::v1::Report report;
  report.set_round_id(round_);
  *report.mutable_delta() = model_.Filled(1);
  report.set_num_examples(1);
  auto stranger = engine_->CheckIn("device-9");
  ASSERT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(stranger));
  EXPECT_EQ(engine_->SubmitReport("device-9", report).status().code(),
            absl::StatusCode::kInvalidArgument);
  cohort::v1::SecAggClientMessage keys;
  keys.mutable_advertise_keys();
  EXPECT_EQ(engine_->SubmitSecAgg("device-0", round_, keys, nullptr).status().code(),
            absl::StatusCode::kAborted);  // no aggregation running yet
  auto again = engine_->SubmitSecAgg("device-0", round_,
                                     devices_[0].participant->Ready(round_),
                                     devices_[0].channel);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);  // second ready
}

// A buffered task's secure buffer: the first goal_count ready devices are
// one SecAgg+ instance, and a device that trained from an older version
// scales its own update by the staleness weight the coordinator sent it.
TEST_F(SecureRoundTest, BufferedSecureBufferIsOneInstanceWithStalenessWeights) {
  options_.min_reports = 3;
  options_.buffered = BufferedOptions{
      .concurrency = 4, .max_staleness = 3, .staleness_exponent = 0.5};
  StartEngine(3);
  ASSERT_EQ(engine_->phase(), RoundPhase::kBuffering);
  auto assign = [&](int i, float value, int64_t* round) {
    Device d;
    d.name = "device-" + std::to_string(i);
    auto out = engine_->CheckIn(d.name);
    EXPECT_TRUE(std::holds_alternative<cohort::v1::TaskAssignment>(out));
    *round = std::get<cohort::v1::TaskAssignment>(out).round_id();
    d.participant = std::make_unique<secagg::SecAggParticipant>(
        model::FlattenFloats(model_.Filled(value)), 10, 0.5, 1000 + i,
        &random_, std::nullopt);
    return d;
  };
  auto ready = [&](Device& d, int64_t round) {
    auto r = engine_->SubmitSecAgg(d.name, round, d.participant->Ready(round),
                                   d.channel);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->has_value());
  };
  int64_t first = 0;
  for (int i = 0; i < 4; ++i) devices_.push_back(assign(i, 1.0f, &first));
  Device stale = std::move(devices_.back());
  devices_.pop_back();
  for (auto& d : devices_) ready(d, first);
  EXPECT_EQ(engine_->phase(), RoundPhase::kAggregating);
  Pump();
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_NEAR(CurrentValue(), 1.0, 1e-3);
  const double after_first = CurrentValue();

  // Buffer 2: the device still training from version 1, and two new ones.
  devices_.clear();
  devices_.push_back(std::move(stale));
  ready(devices_[0], first);
  int64_t second = 0;
  for (int i = 4; i < 6; ++i) {
    devices_.push_back(assign(i, 1.0f, &second));
    ready(devices_.back(), second);
  }
  EXPECT_GT(second, first);
  Pump();
  ASSERT_EQ(summaries_.size(), 2u);
  EXPECT_EQ(summaries_[1].participants, 3);
  // Unweighted, the buffer would add 1, 0.1 more. The tolerance is a few
  // steps of the 16-bit grid over [-10, 10] (3e-4 each) that each device
  // rounds to stochastically.
  EXPECT_NEAR(CurrentValue(), after_first + (std::sqrt(0.5) + 2.0) / 3, 5e-3);
}

}  // namespace
}  // namespace cohort::server
